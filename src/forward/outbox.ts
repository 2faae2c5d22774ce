// The outbox: audio batches wait here until the transcription service acknowledges them, with the boundary
// marks (pause, update, close) between them. It lives in memory, because a healthy service acknowledges a
// batch within milliseconds and writing every batch to SQLite would cost more than the rest of the call;
// a batch that is not acknowledged promptly is "spilled" (handed to the caller to make durable), so an
// outage or an evicted object loses nothing. Past its bound it refuses, never drops.
import type { AudioBatch, ForwardChannel } from "./batcher.js";
import type { FlushCause } from "./messages.js";
import { ForwardError } from "./retry.js";

/** A boundary between batches: audio after it is not sent until the service flushed what came before. */
export interface BoundaryMark {
  /** Every batch with an id up to this one precedes the boundary. */
  afterId: number;
  cause: FlushCause;
}

/** A batch as the outbox holds it: `id` orders batches over both channels and places marks. */
export interface OutboxEntry {
  id: number;
  batch: AudioBatch;
  /** When the batch's first sample arrived (epoch ms): the age of its oldest frame. */
  since: number;
  /** True once it has been handed out by `spill` (it is in durable storage). */
  spilled: boolean;
  /** When it was last sent and answered without its acknowledgement (null: to be sent). */
  sentAt: number | null;
}

export interface OutboxOptions {
  /** Samples held, over all channels, before refusing. */
  maxSamples: number;
}

export type EnqueueResult = { ok: true } | { ok: false; error: ForwardError };

/** What an acknowledgement removed. */
export interface Acknowledged {
  removed: OutboxEntry[];
  /** Per channel, the highest sequence removed that had been spilled (its durable copy must go too). */
  spilledUpTo: Partial<Record<ForwardChannel, number>>;
}

export class Outbox {
  /** Settable: the bound depends on the call's channel count, known only at `open`. */
  maxSamples: number;
  #entries: OutboxEntry[] = [];
  #marks: BoundaryMark[] = [];
  #samples = 0;
  #nextId = 1;

  constructor(options: OutboxOptions) {
    this.maxSamples = options.maxSamples;
  }

  /** Adds a batch, or returns ERR_OUTBOX_FULL (the batch is not kept) when it would exceed the bound. */
  enqueue(batch: AudioBatch, since = batch.since ?? 0): EnqueueResult {
    if (this.#samples + batch.samples.length > this.maxSamples) {
      return {
        ok: false,
        error: new ForwardError(
          "ERR_OUTBOX_FULL",
          `outbox full: ${this.#samples} samples held, bound ${this.maxSamples}; ${batch.channel} #${batch.sequence} refused`,
        ),
      };
    }
    this.#entries.push({ id: this.#nextId++, batch, since, spilled: false, sentAt: null });
    this.#samples += batch.samples.length;
    return { ok: true };
  }

  /**
   * The oldest batches not sent yet, at most `maxBatches`, stopping at the first boundary mark. A batch
   * the service answered without acknowledging is not sent again with every request (a service may
   * acknowledge only when an utterance ends); see `resend` for when it is.
   */
  next(maxBatches: number): AudioBatch[] {
    return this.nextEntries(maxBatches).map((e) => e.batch);
  }

  nextEntries(maxBatches: number): OutboxEntry[] {
    const limit = this.#marks[0]?.afterId ?? Number.POSITIVE_INFINITY;
    const out: OutboxEntry[] = [];
    for (const entry of this.#entries) {
      if (out.length >= maxBatches || entry.id > limit) break;
      if (entry.sentAt === null) out.push(entry);
    }
    return out;
  }

  /** These batches reached the service (it answered) without being acknowledged yet. */
  markSent(entries: readonly OutboxEntry[], now: number): void {
    for (const entry of entries) entry.sentAt = now;
  }

  /**
   * Batches to send again: all of them after a failed request (the service may not have them), or those
   * unacknowledged longer than `olderThan` allows (a service that lost them without saying so).
   */
  resend(olderThan = Number.POSITIVE_INFINITY): void {
    for (const entry of this.#entries)
      if (entry.sentAt !== null && entry.sentAt <= olderThan) entry.sentAt = null;
  }

  /** Drops what the service acknowledged (each ack covers the channel's sequences up to it). */
  acknowledge(acks: Iterable<{ channel: ForwardChannel; sequence: number }>): Acknowledged {
    const upTo = new Map<ForwardChannel, number>();
    for (const ack of acks) upTo.set(ack.channel, Math.max(upTo.get(ack.channel) ?? 0, ack.sequence));
    const removed: OutboxEntry[] = [];
    const spilledUpTo: Acknowledged["spilledUpTo"] = {};
    if (upTo.size === 0) return { removed, spilledUpTo };
    this.#entries = this.#entries.filter((e) => {
      const gone = e.batch.sequence <= (upTo.get(e.batch.channel) ?? 0);
      if (gone) {
        removed.push(e);
        this.#samples -= e.batch.samples.length;
        if (e.spilled)
          spilledUpTo[e.batch.channel] = Math.max(spilledUpTo[e.batch.channel] ?? 0, e.batch.sequence);
      }
      return !gone;
    });
    return { removed, spilledUpTo };
  }

  addMark(cause: FlushCause): void {
    this.#marks.push({ afterId: this.#nextId - 1, cause });
  }

  nextMark(): BoundaryMark | null {
    return this.#marks[0] ?? null;
  }

  /** True when every batch before the first mark has reached the service (the flush acknowledges them). */
  markReached(): boolean {
    const mark = this.#marks[0];
    if (mark === undefined) return false;
    for (const entry of this.#entries) {
      if (entry.id > mark.afterId) break;
      if (entry.sentAt === null) return false;
    }
    return true;
  }

  removeMark(): void {
    this.#marks.shift();
  }

  /**
   * Hands out the batches that must become durable now: those not yet spilled whose oldest frame
   * arrived at or before `olderThan` (all of them with +Infinity). They count as spilled from here on.
   */
  spill(olderThan: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const entry of this.#entries) {
      if (!entry.spilled && entry.since <= olderThan) {
        entry.spilled = true;
        out.push(entry);
      }
    }
    return out;
  }

  get hasUnspilled(): boolean {
    return this.#entries.some((e) => !e.spilled);
  }

  /** Puts back what durable storage held after a wake-up: spilled batches and the marks. */
  restore(entries: readonly OutboxEntry[], marks: readonly BoundaryMark[], nextId: number): void {
    this.#entries = [...entries].sort((a, b) => a.id - b.id);
    this.#samples = this.#entries.reduce((n, e) => n + e.batch.samples.length, 0);
    this.#marks = [...marks];
    this.#nextId = Math.max(nextId, (this.#entries.at(-1)?.id ?? 0) + 1);
  }

  /** Forgets everything held (only when delivery has been given up). */
  clear(): void {
    this.#entries = [];
    this.#marks = [];
    this.#samples = 0;
  }

  get marks(): readonly BoundaryMark[] {
    return this.#marks;
  }

  get nextId(): number {
    return this.#nextId;
  }

  /**
   * When the first batch still held (in enqueue order: the oldest, to within a batch across channels)
   * began to arrive (epoch ms); 0 when none is held or its arrival is unknown.
   */
  oldestSince(): number {
    return this.#entries[0]?.since ?? 0;
  }

  get sizeInSamples(): number {
    return this.#samples;
  }

  get count(): number {
    return this.#entries.length;
  }

  get isEmpty(): boolean {
    return this.#entries.length === 0;
  }

  /** Nothing left to deliver: no audio and no boundary to announce. */
  get drained(): boolean {
    return this.#entries.length === 0 && this.#marks.length === 0;
  }
}
