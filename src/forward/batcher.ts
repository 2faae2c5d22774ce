// Cuts each channel's PCM into fixed-length batches with consecutive per-channel sequence numbers, so a
// unary call carries 100 ms instead of one 20 ms frame (per-frame calls collapse under load).
import { CONFIG_DEFAULTS } from "../config.js";

/** AudioHook's channel names: external is the customer, internal the agent. */
export type ForwardChannel = "external" | "internal";

/** The language the detector gave the audio; a change cuts a batch so each batch has one tag. */
export interface LanguageTag {
  /** BCP-47, empty when not known yet. */
  code: string;
  confidence: number;
  provisional: boolean;
}

export interface AudioBatch {
  channel: ForwardChannel;
  /** Per channel, from 1, consecutive. */
  sequence: number;
  /** Offset of the first sample on the channel's stream timeline, in samples. */
  startSample: number;
  samples: Int16Array;
  language: LanguageTag;
  /** When the batch's first sample arrived (epoch ms; 0 when the caller gave no clock). */
  since?: number;
}

export interface BatcherOptions {
  /** Default 8000 (the only rate AudioHook sends). */
  sampleRate?: number;
  /** Batch length; default BATCH_MS's. */
  batchMs?: number;
}

/** Everything needed to continue after the Durable Object is evicted (store it with the session). */
export interface BatcherSnapshot {
  channels: Partial<Record<ForwardChannel, ChannelSnapshot>>;
}

export interface ChannelSnapshot {
  /** The sequence number the next batch will get. */
  nextSequence: number;
  /** Timeline offset of the first pending sample (or of the next sample pushed, when none is pending). */
  pendingStart: number;
  /** Samples not yet emitted, fewer than one batch. */
  pending: number[];
  language: LanguageTag | null;
}

interface ChannelState {
  nextSequence: number;
  pendingStart: number;
  pending: Int16Array;
  pendingLength: number;
  pendingSince: number;
  language: LanguageTag | null;
}

export class AudioBatcher {
  readonly sampleRate: number;
  readonly batchSamples: number;
  readonly #channels = new Map<ForwardChannel, ChannelState>();

  constructor(options: BatcherOptions = {}, snapshot?: BatcherSnapshot) {
    this.sampleRate = options.sampleRate ?? 8000;
    this.batchSamples = Math.round(((options.batchMs ?? CONFIG_DEFAULTS.BATCH_MS) * this.sampleRate) / 1000);
    if (!(this.batchSamples > 0)) throw new RangeError("batchMs must give at least one sample per batch");
    for (const [channel, saved] of Object.entries(snapshot?.channels ?? {})) {
      if (saved === undefined) continue;
      const state = this.#state(channel as ForwardChannel);
      state.nextSequence = saved.nextSequence;
      state.pendingStart = saved.pendingStart;
      state.pending.set(saved.pending.slice(0, this.batchSamples));
      state.pendingLength = Math.min(saved.pending.length, this.batchSamples);
      state.language = saved.language;
    }
  }

  /**
   * Adds samples and returns the batches completed by them (possibly none). `startSample` places the
   * samples on the timeline; when it differs from where the channel's audio ended (a pause or discarded
   * audio), the pending partial batch is emitted first so no batch spans the jump. A different language
   * (code or provisional flag) also ends the pending batch.
   */
  push(
    channel: ForwardChannel,
    samples: Int16Array,
    language: LanguageTag,
    startSample?: number,
    now = 0,
  ): AudioBatch[] {
    const state = this.#state(channel);
    const out: AudioBatch[] = [];
    const expected = state.pendingStart + state.pendingLength;
    if (startSample !== undefined && startSample !== expected) {
      this.#emit(channel, state, out);
      state.pendingStart = startSample;
    }
    if (state.language !== null && !sameTag(state.language, language)) this.#emit(channel, state, out);
    state.language = language;
    let read = 0;
    while (read < samples.length) {
      if (state.pendingLength === 0) state.pendingSince = now;
      const take = Math.min(this.batchSamples - state.pendingLength, samples.length - read);
      state.pending.set(samples.subarray(read, read + take), state.pendingLength);
      state.pendingLength += take;
      read += take;
      if (state.pendingLength === this.batchSamples) this.#emit(channel, state, out);
    }
    return out;
  }

  /** Emits the pending partial batches (of one channel, or all) on a boundary: pause, update, close. */
  flush(channel?: ForwardChannel): AudioBatch[] {
    const out: AudioBatch[] = [];
    for (const [name, state] of this.#channels) {
      if (channel === undefined || channel === name) this.#emit(name, state, out);
    }
    return out;
  }

  /**
   * Audio the sender lost (a media-api sequence gap): emits what is pending, then leaves out the sequence
   * numbers the missing audio would have taken (at least one), so the service sees the gap too.
   */
  skip(channel: ForwardChannel, missingSamples: number): AudioBatch[] {
    const state = this.#state(channel);
    const out: AudioBatch[] = [];
    this.#emit(channel, state, out);
    state.nextSequence += Math.max(1, Math.round(missingSamples / this.batchSamples));
    state.pendingStart += missingSamples;
    return out;
  }

  /** The next sequence number of a channel (1 before any batch). */
  nextSequence(channel: ForwardChannel): number {
    return this.#channels.get(channel)?.nextSequence ?? 1;
  }

  snapshot(): BatcherSnapshot {
    const channels: BatcherSnapshot["channels"] = {};
    for (const [name, state] of this.#channels) {
      channels[name] = {
        nextSequence: state.nextSequence,
        pendingStart: state.pendingStart,
        pending: Array.from(state.pending.subarray(0, state.pendingLength)),
        language: state.language,
      };
    }
    return { channels };
  }

  #state(channel: ForwardChannel): ChannelState {
    let state = this.#channels.get(channel);
    if (state === undefined) {
      state = {
        nextSequence: 1,
        pendingStart: 0,
        pending: new Int16Array(this.batchSamples),
        pendingLength: 0,
        pendingSince: 0,
        language: null,
      };
      this.#channels.set(channel, state);
    }
    return state;
  }

  #emit(channel: ForwardChannel, state: ChannelState, out: AudioBatch[]): void {
    if (state.pendingLength === 0 || state.language === null) return;
    out.push({
      channel,
      sequence: state.nextSequence,
      startSample: state.pendingStart,
      // A copy: the pending buffer is reused for the next batch.
      samples: state.pending.slice(0, state.pendingLength),
      language: state.language,
      since: state.pendingSince,
    });
    state.nextSequence += 1;
    state.pendingStart += state.pendingLength;
    state.pendingLength = 0;
  }
}

// Confidence moves with every frame: only a new language or a settled decision is worth a cut; the batch
// carries the latest confidence.
function sameTag(a: LanguageTag, b: LanguageTag): boolean {
  return a.code === b.code && a.provisional === b.provisional;
}
