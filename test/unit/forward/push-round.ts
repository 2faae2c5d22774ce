// The client tests' driver: one round of unary forwarding against a real server, sending what an outbox
// holds, dropping what the server acknowledged, returning the new results. (The gateway itself forwards
// through forward/forwarder.ts, whose requests are built and answered the same way.)
import type { TranscriptionClient } from "../../../src/forward/client.js";
import { acksFromProto, buildPushRequest, type SessionContext } from "../../../src/forward/messages.js";
import type { Outbox } from "../../../src/forward/outbox.js";
import type { TranscriptResult } from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";

export interface PushRound {
  /** New results, in order (none already received). */
  results: TranscriptResult[];
  /** Batches dropped from the outbox. */
  acknowledged: number;
  /** The cursor to send next time (persist it with the session). */
  lastResultSequence: number;
}

export interface PushRoundOptions {
  /** Batches per call, default 10 (one second of both channels at 100 ms). */
  maxBatches?: number;
  endOfUtterance?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Sends up to `maxBatches` batches (possibly none, to collect results) and applies the answer. */
export async function pushRound(
  client: TranscriptionClient,
  outbox: Outbox,
  session: SessionContext,
  lastResultSequence: number,
  options: PushRoundOptions = {},
): Promise<PushRound> {
  const batches = outbox.next(options.maxBatches ?? 10);
  const request = buildPushRequest(session, batches, {
    endOfUtterance: options.endOfUtterance,
    lastResultSequence,
  });
  const response = await client.pushAudio(request, { signal: options.signal, timeoutMs: options.timeoutMs });
  const acknowledged = outbox.acknowledge(acksFromProto(response.acks)).removed.length;
  // A result at or below the cursor can only come from a server that ignored the cursor: skip it.
  const results = response.results.filter((r) => Number(r.sequenceNumber) > lastResultSequence);
  const last = results.at(-1);
  return {
    results,
    acknowledged,
    lastResultSequence: last === undefined ? lastResultSequence : Number(last.sequenceNumber),
  };
}
