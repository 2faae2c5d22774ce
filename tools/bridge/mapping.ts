// Pure translation between langhook's contract and the seed's: which seed stream a langhook chunk belongs
// to, the seed chunk it becomes, and the langhook result a seed result becomes, placed on the call timeline.
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  type AudioChunk,
  AudioFormat,
  Channel,
  type TranscriptResult,
  TranscriptResultSchema,
} from "../../src/gen/langhook/transcription/v1/transcription_pb.js";
import {
  type AudioChunk as SeedChunk,
  AudioChunkSchema as SeedChunkSchema,
  type TranscriptResult as SeedResult,
} from "../../src/gen/seed/transcription_pb.js";

/** The channels a bridged call has: each becomes one seed stream. */
export type BridgeChannel = Channel.EXTERNAL | Channel.INTERNAL;

export interface ParticipantNaming {
  /**
   * participant_id of the agent channel (AudioHook "internal"). AudioHook names only the customer's
   * participant, so the agent's stream gets this fixed name (default "agent") within the conversation.
   */
  agent: string;
}

/** Why a langhook chunk cannot be bridged; the server answers INVALID_ARGUMENT with the message. */
export class ChunkError extends Error {
  override name = "ChunkError";
}

/**
 * The seed participant_id of a channel: the customer's Genesys participant id on EXTERNAL ("customer"
 * when the call did not name one), `naming.agent` on INTERNAL.
 */
export function participantOf(channel: BridgeChannel, customerId: string, naming: ParticipantNaming): string {
  return channel === Channel.INTERNAL ? naming.agent : customerId || "customer";
}

/** The channel of a langhook chunk, refusing the unspecified one (the seed needs two distinct streams). */
export function channelOf(chunk: AudioChunk): BridgeChannel {
  if (chunk.channel === Channel.EXTERNAL || chunk.channel === Channel.INTERNAL) return chunk.channel;
  throw new ChunkError(`chunk ${chunk.sequenceNumber} has no channel (EXTERNAL or INTERNAL)`);
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * The seed chunk for a langhook chunk. Sequence numbers are kept as they are (the seed's are per stream,
 * and langhook's per session and channel: the same numbering), which is what lets an acknowledgement from
 * the service be handed back to langhook unchanged.
 */
export function toSeedChunk(
  chunk: AudioChunk,
  stream: { conversationId: string; participantId: string },
): SeedChunk {
  const sequence = Number(chunk.sequenceNumber);
  if (sequence < 1 || sequence > INT32_MAX) {
    throw new ChunkError(
      `sequence_number ${chunk.sequenceNumber} does not fit the seed's int32 (1..${INT32_MAX})`,
    );
  }
  return create(SeedChunkSchema, {
    conversationId: stream.conversationId,
    participantId: stream.participantId,
    audioData: chunk.audioData,
    languageCode: chunk.languageCode,
    sequenceNumber: sequence,
    sampleRate: chunk.sampleRate || 8000,
    audioFormat: chunk.audioFormat === AudioFormat.PCMU ? "PCMU" : "L16",
  });
}

/** Samples in a chunk's audio (L16: 2 bytes a sample, PCMU: 1). */
export function samplesOf(chunk: AudioChunk): number {
  return chunk.audioFormat === AudioFormat.PCMU
    ? chunk.audioData.byteLength
    : chunk.audioData.byteLength >> 1;
}

interface Placed {
  sequence: number;
  start: number;
  end: number;
  rate: number;
  language: string;
}

/** Where an utterance is on the channel's timeline, and the language its audio was tagged with. */
export interface Span {
  /** First and last chunk sequence the result covers. */
  fromSequence: number;
  toSequence: number;
  offsetMs: number;
  durationMs: number;
  /** The tag carried by most of the span's samples ("" when none). */
  language: string;
}

/**
 * Places seed results on the timeline. A seed result carries no timing, only the sequence number up to
 * which the service has consumed audio; the bridge takes a result with text to cover every chunk after
 * the previous result with text, up to and including its own sequence number, and places it from the
 * first such chunk's position to the last one's end. Results without text only acknowledge and do not
 * close a span. The estimate is exact to a chunk (100 ms) at its edges when the service emits one result
 * per utterance; leading and trailing silence inside the span is counted in.
 */
export class Timeline {
  #chunks: Placed[] = [];
  #lastEnd: { at: number; rate: number } = { at: 0, rate: 8000 };

  /** A chunk accepted for the stream (in sequence order). */
  add(chunk: AudioChunk): void {
    const start = Number(chunk.position);
    const rate = chunk.sampleRate || 8000;
    this.#chunks.push({
      sequence: Number(chunk.sequenceNumber),
      start,
      end: start + samplesOf(chunk),
      rate,
      language: chunk.languageCode,
    });
  }

  /** The span of a text result acknowledging up to `sequence`; the chunks it covers are forgotten. */
  close(sequence: number): Span {
    const covered: Placed[] = [];
    while (this.#chunks.length > 0 && (this.#chunks[0] as Placed).sequence <= sequence) {
      covered.push(this.#chunks.shift() as Placed);
    }
    const first = covered[0];
    const last = covered.at(-1);
    if (first === undefined || last === undefined) {
      // Nothing new is covered (the service repeated itself): an empty span where the last one ended.
      const at = (this.#lastEnd.at / this.#lastEnd.rate) * 1000;
      return { fromSequence: sequence, toSequence: sequence, offsetMs: at, durationMs: 0, language: "" };
    }
    this.#lastEnd = { at: last.end, rate: last.rate };
    const weights = new Map<string, number>();
    for (const c of covered) weights.set(c.language, (weights.get(c.language) ?? 0) + (c.end - c.start));
    const language = [...weights].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "";
    return {
      fromSequence: first.sequence,
      toSequence: last.sequence,
      offsetMs: (first.start / first.rate) * 1000,
      durationMs: ((last.end - first.start) / first.rate) * 1000,
      language,
    };
  }
}

/**
 * The seed's `language_confidence` is a string. Read as an identification only when it names a language:
 * "es-ES", "es-ES:0.93" or "es-ES 0.93" (the engine's own language, with its confidence, 1 when absent).
 * A bare number says nothing about which language it is for, so it is not taken as evidence (langhook
 * reads confidence 0 as "the engine echoed the tag"), nor is anything else.
 */
export function parseLanguageConfidence(value: string): { language: string; confidence: number } | null {
  const m = /^\s*([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)(?:\s*[:= ]\s*(\d+(?:\.\d+)?))?\s*$/.exec(value);
  if (m === null || m[1] === undefined) return null;
  const confidence = m[2] === undefined ? 1 : Number(m[2]);
  if (!(confidence >= 0 && confidence <= 1)) return null;
  return { language: m[1], confidence };
}

/** The langhook result for a seed result with text, given its place on the timeline. */
export function toLanghookResult(
  seed: SeedResult,
  span: Span,
  channel: BridgeChannel,
  ids: { sessionId: string; conversationId: string; resultSequence: number },
): TranscriptResult {
  const identified = parseLanguageConfidence(seed.languageConfidence);
  const channelName = channel === Channel.INTERNAL ? "internal" : "external";
  return create(TranscriptResultSchema, {
    sessionId: ids.sessionId,
    conversationId: ids.conversationId,
    sequenceNumber: BigInt(ids.resultSequence),
    // One result per utterance: the seed has no interim results.
    utteranceId: `${channelName}-${span.fromSequence}-${span.toSequence}`,
    channel,
    isFinal: true,
    text: seed.text,
    language: identified?.language ?? span.language,
    languageConfidence: identified?.confidence ?? 0,
    offset: durationFromMs(Math.round(span.offsetMs)),
    duration: durationFromMs(Math.round(span.durationMs)),
  });
}
