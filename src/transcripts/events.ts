// Transcript results from the engine → AudioHook Transcription Connector `transcript` entities
// (one per event, under the 64 KiB message limit) and the media-api's JSON transcript frames.

import type { Duration } from "@bufbuild/protobuf/wkt";
import { formatDuration } from "../audiohook/duration";
import type { TranscriptResult } from "../gen/langhook/transcription/v1/transcription_pb";
import { Channel } from "../gen/langhook/transcription/v1/transcription_pb";
import type { ChannelName } from "../media/format";

/** Room left for the envelope (version, id, seq, ...) under the 64 KiB text limit. */
export const MAX_ENTITY_BYTES = 60 * 1024;

export interface TranscriptToken {
  type: "word";
  value: string;
  confidence: number;
  offset: string;
  duration: string;
  language: string;
}

export interface TranscriptEntity {
  type: "transcript";
  data: {
    id: string;
    channelId: number;
    isFinal: boolean;
    offset: string;
    duration: string;
    alternatives: {
      confidence: number;
      languages: string[];
      interpretations: { type: "display"; transcript: string; tokens?: TranscriptToken[] }[];
    }[];
  };
}

export function seconds(duration: Duration | undefined): number {
  if (!duration) return 0;
  return Number(duration.seconds) + duration.nanos / 1e9;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Genesys wants a UUID per utterance; an engine's own id that is not one is mapped to one, stably: a
 * version 8 UUID from SHA-256 of the session and the id (RFC 9562 §5.8 and its Appendix B.2 example).
 * Version 5 would promise SHA-1, which this is not.
 */
export async function utteranceUuid(sessionId: string, utteranceId: string): Promise<string> {
  if (UUID.test(utteranceId)) return utteranceId.toLowerCase();
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${sessionId}/${utteranceId}`)),
  );
  digest[6] = ((digest[6] as number) & 0x0f) | 0x80; // version 8 (custom: here SHA-256, name-based)
  digest[8] = ((digest[8] as number) & 0x3f) | 0x80;
  const hex = Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function channelName(channel: Channel): ChannelName | undefined {
  return channel === Channel.EXTERNAL ? "external" : channel === Channel.INTERNAL ? "internal" : undefined;
}

/**
 * A confidence in 0..1 to 3 decimals: the contract carries float32, whose 0.9 reads 0.8999999761581421
 * once widened; three decimals are all a confidence means.
 */
export function confidence(x: number): number {
  return Number.isFinite(x) ? Math.round(Math.min(1, Math.max(0, x)) * 1000) / 1000 : 0;
}

/**
 * One transcript entity for a result, or null when its channel was not negotiated.
 * `channels` is the negotiated list: channelId is an index into it. `audioLanguage` is the tag of
 * the audio when the engine did not say which language it heard.
 */
export async function transcriptEntity(
  result: TranscriptResult,
  channels: readonly ChannelName[],
  sessionId: string,
  audioLanguage: string,
): Promise<TranscriptEntity | null> {
  const name = channelName(result.channel);
  const channelId = name === undefined ? (channels.length === 1 ? 0 : -1) : channels.indexOf(name);
  if (channelId < 0) return null;
  const language = result.language || audioLanguage;
  const tokens: TranscriptToken[] = result.tokens.map((t) => ({
    type: "word",
    value: t.value,
    confidence: confidence(t.confidence),
    offset: formatDuration(seconds(t.offset)),
    duration: formatDuration(seconds(t.duration)),
    language: t.language || language,
  }));
  const entity: TranscriptEntity = {
    type: "transcript",
    data: {
      id: await utteranceUuid(sessionId, result.utteranceId || `result-${result.sequenceNumber}`),
      channelId,
      isFinal: result.isFinal,
      offset: formatDuration(seconds(result.offset)),
      duration: formatDuration(seconds(result.duration)),
      alternatives: [
        {
          confidence: confidence(result.confidence),
          languages: [language],
          interpretations: [
            { type: "display", transcript: result.text, ...(tokens.length > 0 ? { tokens } : {}) },
          ],
        },
      ],
    },
  };
  return fitEntity(entity);
}

const byteLength = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/** Keeps an event under the limit: drop word tokens first, then shorten the text. */
export function fitEntity(entity: TranscriptEntity): TranscriptEntity {
  if (byteLength(entity) <= MAX_ENTITY_BYTES) return entity;
  const interpretation = entity.data.alternatives[0]?.interpretations[0];
  if (!interpretation) return entity;
  delete interpretation.tokens;
  while (byteLength(entity) > MAX_ENTITY_BYTES && interpretation.transcript.length > 0) {
    const excess = byteLength(entity) - MAX_ENTITY_BYTES;
    interpretation.transcript = interpretation.transcript.slice(
      0,
      Math.max(0, interpretation.transcript.length - Math.max(excess, 16)),
    );
  }
  return entity;
}

/** The media-api's transcript frame mirrors the result. */
export function transcriptFrame(result: TranscriptResult, audioLanguage: string): Record<string, unknown> {
  return {
    type: "transcript",
    conversationId: result.conversationId,
    utteranceId: result.utteranceId,
    sequenceNumber: Number(result.sequenceNumber),
    channel: channelName(result.channel) ?? "external",
    isFinal: result.isFinal,
    text: result.text,
    offset: seconds(result.offset),
    duration: seconds(result.duration),
    confidence: confidence(result.confidence),
    language: result.language || audioLanguage,
    languageConfidence: confidence(result.languageConfidence),
    tokens: result.tokens.map((t) => ({
      value: t.value,
      confidence: confidence(t.confidence),
      offset: seconds(t.offset),
      duration: seconds(t.duration),
      language: t.language || undefined,
    })),
  };
}
