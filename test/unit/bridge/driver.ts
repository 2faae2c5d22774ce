// Drives the bridge as langhook's forwarding does, with the same client: unary PushAudio of the oldest
// unacknowledged chunks (at most 10 a call), retried with backoff, then FlushSession until every chunk is
// acknowledged; results collected once each by last_result_sequence_number.
import { create } from "@bufbuild/protobuf";
import { createTranscriptionClient, type TranscriptionClient } from "../../../src/forward/client.js";
import { withRetry } from "../../../src/forward/retry.js";
import {
  type AudioChunk,
  AudioChunkSchema,
  AudioFormat,
  Channel,
  FlushReason,
  type TranscriptResult,
} from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";

export const CHUNK_SAMPLES = 800; // 100 ms at 8 kHz

/** `count` 100 ms L16 chunks per channel, interleaved external/internal, sequence 1..count on each. */
export function callAudio(sessionId: string, count: number, language = "es-ES"): AudioChunk[] {
  const out: AudioChunk[] = [];
  for (let seq = 1; seq <= count; seq++) {
    for (const channel of [Channel.EXTERNAL, Channel.INTERNAL]) {
      const audio = new Uint8Array(CHUNK_SAMPLES * 2);
      audio.fill(seq % 251);
      out.push(
        create(AudioChunkSchema, {
          sessionId,
          conversationId: `conv-${sessionId}`,
          participantId: "customer-7",
          channel,
          sequenceNumber: BigInt(seq),
          position: BigInt((seq - 1) * CHUNK_SAMPLES),
          sampleRate: 8000,
          audioFormat: AudioFormat.L16,
          audioData: audio,
          languageCode: language,
        }),
      );
    }
  }
  return out;
}

export function langhookClient(baseUrl: string): TranscriptionClient {
  return createTranscriptionClient({ baseUrl, fetch, timeoutMs: 5000 });
}

export interface Delivery {
  results: TranscriptResult[];
  pushes: number;
}

/**
 * Sends `chunks` as langhook would, `perTick` at a time becoming available every `tickMs` (real time), and
 * `between` runs after each push (to inject faults mid-call).
 */
export async function deliver(
  client: TranscriptionClient,
  sessionId: string,
  chunks: AudioChunk[],
  options: { perTick?: number; tickMs?: number; between?: (pushes: number) => Promise<void> } = {},
): Promise<Delivery> {
  const perTick = options.perTick ?? 4;
  let available = 0;
  const unacked: AudioChunk[] = [];
  const results: TranscriptResult[] = [];
  let cursor = 0n;
  let pushes = 0;
  const retry = {
    policy: {
      baseDelayMs: 20,
      maxDelayMs: 500,
      maxServerDelayMs: 5000,
      maxAttempts: 100,
      maxElapsedMs: 60_000,
    },
  };
  const take = (res: {
    acks: { channel: Channel; sequenceNumber: bigint }[];
    results: TranscriptResult[];
  }) => {
    for (const ack of res.acks) {
      for (let i = unacked.length - 1; i >= 0; i--) {
        const c = unacked[i] as AudioChunk;
        if (c.channel === ack.channel && c.sequenceNumber <= ack.sequenceNumber) unacked.splice(i, 1);
      }
    }
    for (const r of res.results) {
      if (r.sequenceNumber <= cursor) continue;
      results.push(r);
      cursor = r.sequenceNumber;
    }
  };
  while (available < chunks.length || unacked.length > 0) {
    if (available < chunks.length) {
      unacked.push(...chunks.slice(available, available + perTick));
      available += perTick;
    }
    const batch = unacked.slice(0, 10);
    const res = await withRetry(
      () => client.pushAudio({ sessionId, chunks: batch, lastResultSequenceNumber: cursor }),
      retry,
    );
    pushes += 1;
    take(res);
    await options.between?.(pushes);
    if (options.tickMs) await new Promise((r) => setTimeout(r, options.tickMs));
    if (available >= chunks.length && unacked.length > 0 && pushes > 10_000) throw new Error("no progress");
  }
  for (let tries = 0; ; tries++) {
    const res = await withRetry(
      () =>
        client.flushSession({
          sessionId,
          reason: FlushReason.CLOSED,
          endSession: true,
          lastResultSequenceNumber: cursor,
        }),
      retry,
    );
    take(res);
    if (res.results.length === 0 || tries > 20) break;
  }
  return { results, pushes };
}
