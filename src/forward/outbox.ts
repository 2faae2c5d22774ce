// The persistent outbox: audio batches wait here until the transcription service acknowledges them, so a
// failed call, a retry or an evicted Durable Object loses nothing; past its bound it refuses, never drops.
import type { AudioBatch, ForwardChannel } from "./batcher.js";
import { ForwardError } from "./retry.js";

/**
 * Storage behind the outbox, synchronous like a Durable Object's SQLite API. Entries come back in the
 * order they were appended; each channel's sequence numbers are increasing.
 */
export interface OutboxStore {
  append(batch: AudioBatch): void;
  /** The oldest `limit` entries, oldest first, over all channels. */
  peek(limit: number): AudioBatch[];
  /** Removes the channel's entries with sequence <= `sequence`; returns how many went. */
  ackUpTo(channel: ForwardChannel, sequence: number): number;
  /** Samples held, over all channels. */
  sizeInSamples(): number;
  /** Entries held, over all channels. */
  count(): number;
}

export interface OutboxOptions {
  /** Default 8000. */
  sampleRate?: number;
  /** Audio held before refusing, per channel, default 60 s. The bound is this times `channels`. */
  maxBufferedMs?: number;
  /** Default 2 (AudioHook stereo). */
  channels?: number;
}

export type EnqueueResult = { ok: true } | { ok: false; error: ForwardError };

export class Outbox {
  readonly maxSamples: number;
  readonly #store: OutboxStore;

  constructor(store: OutboxStore, options: OutboxOptions = {}) {
    this.#store = store;
    const rate = options.sampleRate ?? 8000;
    this.maxSamples = Math.floor(
      (((options.maxBufferedMs ?? 60_000) * rate) / 1000) * (options.channels ?? 2),
    );
  }

  /** Adds a batch, or returns ERR_OUTBOX_FULL (the batch is not stored) when it would exceed the bound. */
  enqueue(batch: AudioBatch): EnqueueResult {
    const held = this.#store.sizeInSamples();
    if (held + batch.samples.length > this.maxSamples) {
      return {
        ok: false,
        error: new ForwardError(
          "ERR_OUTBOX_FULL",
          `outbox full: ${held} samples held, bound ${this.maxSamples}; ${batch.channel} #${batch.sequence} refused`,
        ),
      };
    }
    this.#store.append(batch);
    return { ok: true };
  }

  /** The next batches to send, oldest first, at most `maxBatches` (each channel's stay consecutive). */
  next(maxBatches: number): AudioBatch[] {
    return this.#store.peek(maxBatches);
  }

  /** Drops what the server acknowledged; returns how many batches went. */
  acknowledge(acks: Iterable<{ channel: ForwardChannel; sequence: number }>): number {
    let removed = 0;
    for (const ack of acks) removed += this.#store.ackUpTo(ack.channel, ack.sequence);
    return removed;
  }

  get sizeInSamples(): number {
    return this.#store.sizeInSamples();
  }

  get count(): number {
    return this.#store.count();
  }

  get isEmpty(): boolean {
    return this.#store.count() === 0;
  }
}

/** An OutboxStore in memory: for tests, and for a caller that accepts losing the outbox on eviction. */
export class MemoryOutboxStore implements OutboxStore {
  #entries: AudioBatch[] = [];
  #samples = 0;

  append(batch: AudioBatch): void {
    this.#entries.push(batch);
    this.#samples += batch.samples.length;
  }

  peek(limit: number): AudioBatch[] {
    return this.#entries.slice(0, Math.max(0, limit));
  }

  ackUpTo(channel: ForwardChannel, sequence: number): number {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => {
      const gone = e.channel === channel && e.sequence <= sequence;
      if (gone) this.#samples -= e.samples.length;
      return !gone;
    });
    return before - this.#entries.length;
  }

  sizeInSamples(): number {
    return this.#samples;
  }

  count(): number {
    return this.#entries.length;
  }
}
