// Converts between the forwarding modules' plain values and the generated Connect messages: batches to
// AudioChunks (L16 little-endian), acknowledgements back to plain channel/sequence pairs.
import { create } from "@bufbuild/protobuf";
import {
  type AudioChunk,
  AudioChunkSchema,
  AudioFormat,
  Channel,
  type ChannelAck,
  FlushReason,
  type FlushSessionRequest,
  FlushSessionRequestSchema,
  type PushAudioRequest,
  PushAudioRequestSchema,
} from "../gen/langhook/transcription/v1/transcription_pb.js";
import type { AudioBatch, ForwardChannel } from "./batcher.js";
import { ForwardError } from "./retry.js";

/** What every chunk of a session carries besides its audio. */
export interface SessionContext {
  sessionId: string;
  conversationId: string;
  participantId: string;
  /** Default 8000. */
  sampleRate?: number;
  /** Sessions this one continues (a reconnected call), sent with every request. */
  continues?: readonly string[];
}

export function channelToProto(channel: ForwardChannel): Channel {
  return channel === "external" ? Channel.EXTERNAL : Channel.INTERNAL;
}

export function channelFromProto(channel: Channel): ForwardChannel | undefined {
  if (channel === Channel.EXTERNAL) return "external";
  if (channel === Channel.INTERNAL) return "internal";
  return undefined;
}

/** 16-bit samples as little-endian bytes, whatever the platform's byte order. */
export function encodeL16(samples: Int16Array): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i] ?? 0, true);
  return bytes;
}

export function decodeL16(bytes: Uint8Array): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = new Int16Array(bytes.byteLength >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return samples;
}

/** A uint64 field's value as a BigInt, or ERR_LOCAL_ENCODING naming the batch and the field. */
function uint64(batch: AudioBatch, field: "sequence" | "startSample"): bigint {
  const value = batch[field];
  if (Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new ForwardError(
    "ERR_LOCAL_ENCODING",
    `cannot encode ${batch.channel} batch ${batch.sequence}: ${field} ${value} is not a non-negative safe integer`,
  );
}

/** Throws a ForwardError ERR_LOCAL_ENCODING (fatal, never retried) for a batch that cannot be encoded. */
export function toAudioChunk(batch: AudioBatch, session: SessionContext): AudioChunk {
  return create(AudioChunkSchema, {
    sessionId: session.sessionId,
    conversationId: session.conversationId,
    participantId: session.participantId,
    channel: channelToProto(batch.channel),
    sequenceNumber: uint64(batch, "sequence"),
    position: uint64(batch, "startSample"),
    sampleRate: session.sampleRate ?? 8000,
    audioFormat: AudioFormat.L16,
    audioData: encodeL16(batch.samples),
    languageCode: batch.language.code,
    languageConfidence: batch.language.confidence,
    languageProvisional: batch.language.provisional,
  });
}

export interface PushOptions {
  endOfUtterance?: boolean;
  /** Highest result sequence number received so far (0 for none). */
  lastResultSequence?: number;
}

export function buildPushRequest(
  session: SessionContext,
  batches: readonly AudioBatch[],
  options: PushOptions = {},
): PushAudioRequest {
  return create(PushAudioRequestSchema, {
    sessionId: session.sessionId,
    chunks: batches.map((b) => toAudioChunk(b, session)),
    endOfUtterance: options.endOfUtterance ?? false,
    lastResultSequenceNumber: BigInt(options.lastResultSequence ?? 0),
    continuedSessionIds: [...(session.continues ?? [])],
  });
}

export type FlushCause = "paused" | "updated" | "discarded" | "closed";

const flushReasons: Record<FlushCause, FlushReason> = {
  paused: FlushReason.PAUSED,
  updated: FlushReason.UPDATED,
  discarded: FlushReason.DISCARDED,
  closed: FlushReason.CLOSED,
};

export function buildFlushRequest(
  sessionId: string,
  cause: FlushCause,
  options: { endSession?: boolean; lastResultSequence?: number; continues?: readonly string[] } = {},
): FlushSessionRequest {
  return create(FlushSessionRequestSchema, {
    sessionId,
    reason: flushReasons[cause],
    endSession: options.endSession ?? cause === "closed",
    lastResultSequenceNumber: BigInt(options.lastResultSequence ?? 0),
    continuedSessionIds: [...(options.continues ?? [])],
  });
}

/** Server acknowledgements as the Outbox takes them; acks for an unknown channel are ignored. */
export function acksFromProto(acks: readonly ChannelAck[]): { channel: ForwardChannel; sequence: number }[] {
  const out: { channel: ForwardChannel; sequence: number }[] = [];
  for (const ack of acks) {
    const channel = channelFromProto(ack.channel);
    if (channel !== undefined) out.push({ channel, sequence: Number(ack.sequenceNumber) });
  }
  return out;
}
