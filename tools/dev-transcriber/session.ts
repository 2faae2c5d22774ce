// One transcription session of the development server: deduplicates chunks by (channel, sequence),
// counts gaps, segments each channel with the energy VAD and keeps results until the client has them.
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { decodeL16 } from "../../src/forward/messages.js";
import {
  type AudioChunk,
  AudioFormat,
  Channel,
  type ChannelAck,
  ChannelAckSchema,
  type TranscriptResult,
  TranscriptResultSchema,
} from "../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { EnergyVad, type Segment } from "./vad.js";

export type ChunkOutcome = "processed" | "duplicate" | "gap";

export interface SessionOptions {
  /** Report this language instead of the chunks' tags. */
  reportLanguage?: string;
  /** Emit a non-final result every this many ms of ongoing speech; 0 (default) for none. */
  interimMs?: number;
  /** Keep the audio (for --record). */
  record?: boolean;
  vad?: { thresholdDbfs?: number; hangoverMs?: number; minSpeechMs?: number };
}

export interface ChannelStats {
  acked: number;
  chunks: number;
  duplicates: number;
  gaps: number;
  lostChunks: number;
  samples: number;
  /** The language tag of the channel's first chunk ("" when untagged): what a call knew from the start. */
  firstLanguage: string | null;
}

class ChannelTrack {
  readonly stats: ChannelStats = {
    acked: 0,
    chunks: 0,
    duplicates: 0,
    gaps: 0,
    lostChunks: 0,
    samples: 0,
    firstLanguage: null,
  };
  vad: EnergyVad | undefined;
  sampleRate = 8000;
  /** Language and confidence of the utterance in progress (first tagged chunk of it). */
  language = "";
  languageConfidence = 0;
  lastLanguage = "";
  lastConfidence = 0;
  utteranceCount = 0;
  /** Start of the utterance the count and language belong to. */
  openStart: number | undefined;
  interimsSent = 0;
  recorded: { position: number; samples: Int16Array }[] = [];
}

export class DevSession {
  readonly id: string;
  conversationId = "";
  ended = false;
  /** Sessions the client said this one continues (a reconnected call). */
  continues: string[] = [];
  reportLanguage: string | undefined;
  readonly #options: SessionOptions;
  readonly #channels = new Map<Channel, ChannelTrack>();
  /** Results not yet reported received by the client, in order. */
  #results: TranscriptResult[] = [];
  #nextResult = 1;
  /** Highest result sequence handed to a StreamAudio response. */
  streamedUpTo = 0;

  constructor(id: string, options: SessionOptions = {}) {
    this.id = id;
    this.#options = options;
    this.reportLanguage = options.reportLanguage;
  }

  accept(chunk: AudioChunk): { outcome: ChunkOutcome; missing: number } {
    if (chunk.conversationId !== "") this.conversationId = chunk.conversationId;
    const track = this.#track(chunk.channel);
    const seq = Number(chunk.sequenceNumber);
    if (seq <= track.stats.acked) {
      track.stats.duplicates += 1;
      return { outcome: "duplicate", missing: 0 };
    }
    const missing = seq - track.stats.acked - 1;
    if (missing > 0) {
      track.stats.gaps += 1;
      track.stats.lostChunks += missing;
    }
    track.stats.acked = seq;
    track.stats.chunks += 1;
    track.stats.firstLanguage ??= chunk.languageCode;
    const rate = chunk.sampleRate > 0 ? chunk.sampleRate : 8000;
    if (track.vad === undefined || track.sampleRate !== rate) {
      track.sampleRate = rate;
      track.vad = new EnergyVad({ sampleRate: rate, ...this.#options.vad });
    }
    const samples =
      chunk.audioFormat === AudioFormat.PCMU ? decodePcmu(chunk.audioData) : decodeL16(chunk.audioData);
    track.stats.samples += samples.length;
    const position = Number(chunk.position);
    if (this.#options.record === true) track.recorded.push({ position, samples });
    // A new language cuts the utterance in progress: each result has one language.
    if (track.vad.speechStart !== undefined && chunk.languageCode !== track.language) {
      this.#final(chunk.channel, track, track.vad.finish());
    }
    track.lastLanguage = chunk.languageCode;
    track.lastConfidence = chunk.languageConfidence;
    for (const segment of track.vad.push(samples, position)) this.#final(chunk.channel, track, segment);
    const start = track.vad.speechStart;
    if (start !== undefined && start !== track.openStart) this.#startUtterance(track, start);
    this.#interim(chunk.channel, track);
    return { outcome: missing > 0 ? "gap" : "processed", missing: Math.max(0, missing) };
  }

  /** Finalizes the utterances in progress on every channel, or only `channels`. */
  flush(channels?: ReadonlySet<Channel>): void {
    for (const [channel, track] of this.#channels) {
      if (channels !== undefined && !channels.has(channel)) continue;
      if (track.vad !== undefined) this.#final(channel, track, track.vad.finish());
    }
  }

  acks(): ChannelAck[] {
    return [...this.#channels].map(([channel, t]) =>
      create(ChannelAckSchema, { channel, sequenceNumber: BigInt(t.stats.acked) }),
    );
  }

  /** Drops results the client has, returns the rest. */
  resultsAfter(lastReceived: number): TranscriptResult[] {
    this.#results = this.#results.filter((r) => Number(r.sequenceNumber) > lastReceived);
    return [...this.#results];
  }

  /** Results not yet sent on a stream, marking them sent. */
  takeForStream(): TranscriptResult[] {
    const out = this.#results.filter((r) => Number(r.sequenceNumber) > this.streamedUpTo);
    const last = out.at(-1);
    if (last !== undefined) this.streamedUpTo = Number(last.sequenceNumber);
    return out;
  }

  get resultCount(): number {
    return this.#nextResult - 1;
  }

  channelStats(): Record<string, ChannelStats> {
    const out: Record<string, ChannelStats> = {};
    for (const [channel, t] of this.#channels) out[Channel[channel]] = { ...t.stats };
    return out;
  }

  /** Each channel's audio laid on its timeline (gaps as silence), for --record. */
  recordings(): { channel: string; sampleRate: number; samples: Int16Array }[] {
    return [...this.#channels].map(([channel, t]) => {
      const end = Math.max(0, ...t.recorded.map((r) => r.position + r.samples.length));
      const samples = new Int16Array(end);
      for (const r of t.recorded) samples.set(r.samples, r.position);
      return { channel: Channel[channel], sampleRate: t.sampleRate, samples };
    });
  }

  #track(channel: Channel): ChannelTrack {
    let track = this.#channels.get(channel);
    if (track === undefined) {
      track = new ChannelTrack();
      this.#channels.set(channel, track);
    }
    return track;
  }

  #startUtterance(track: ChannelTrack, start: number): void {
    track.openStart = start;
    track.utteranceCount += 1;
    track.interimsSent = 0;
    track.language = track.lastLanguage;
    track.languageConfidence = track.lastConfidence;
  }

  #interim(channel: Channel, track: ChannelTrack): void {
    const every = this.#options.interimMs ?? 0;
    const start = track.vad?.speechStart;
    if (every <= 0 || start === undefined || track.vad === undefined) return;
    const spokenMs = ((track.vad.speechEnd - start) * 1000) / track.sampleRate;
    if (spokenMs < (track.interimsSent + 1) * every) return;
    track.interimsSent += 1;
    this.#push(channel, track, { start, end: track.vad.speechEnd }, false);
  }

  #final(channel: Channel, track: ChannelTrack, segment: Segment | undefined): void {
    if (segment === undefined) return;
    // Speech that began and ended inside one chunk was never opened.
    if (segment.start !== track.openStart) this.#startUtterance(track, segment.start);
    this.#push(channel, track, segment, true);
  }

  #push(channel: Channel, track: ChannelTrack, segment: Segment, isFinal: boolean): void {
    const language = this.reportLanguage ?? (track.language || "und");
    const offsetMs = (segment.start * 1000) / track.sampleRate;
    const durationMs = ((segment.end - segment.start) * 1000) / track.sampleRate;
    const text = `[${language} speech ${(durationMs / 1000).toFixed(2)} s]`;
    this.#results.push(
      create(TranscriptResultSchema, {
        sessionId: this.id,
        conversationId: this.conversationId,
        sequenceNumber: BigInt(this.#nextResult++),
        utteranceId: `${this.id}/${Channel[channel]}/${track.utteranceCount}`,
        channel,
        isFinal,
        text,
        language,
        // This server identifies no language: an echoed tag carries confidence 0 (no evidence), a
        // language it was told to report carries 1, standing in for an engine's own identification.
        languageConfidence: this.reportLanguage === undefined ? 0 : 1,
        confidence: 0.9,
        offset: durationFromMs(offsetMs),
        duration: durationFromMs(durationMs),
        tokens: [
          {
            value: "speech",
            confidence: 0.9,
            offset: durationFromMs(offsetMs),
            duration: durationFromMs(durationMs),
            language,
          },
        ],
      }),
    );
  }
}

// G.711 µ-law to 16-bit linear.
function decodePcmu(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const u = ~(bytes[i] ?? 0) & 0xff;
    const exponent = (u >> 4) & 0x07;
    const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
    out[i] = u & 0x80 ? -magnitude : magnitude;
  }
  return out;
}
