// Puts media-api frames back in sequence order within a small window: duplicates are dropped and
// counted, and numbers that never arrive in time are reported as gaps, never silently skipped.

export type ReorderEvent<T> =
  /** The next frame in order. */
  | { readonly type: "frame"; readonly sequence: number; readonly item: T }
  /** Numbers `from`..`to` (inclusive) were given up on; whatever follows comes after them. */
  | { readonly type: "gap"; readonly from: number; readonly to: number }
  /**
   * A frame not passed on: already seen (`duplicate`), given up on before it came (`late`), or numbered
   * further ahead of the next expected than `maxJumpFrames` (`out-of-range`: a bad number, not a gap;
   * nothing about the stream changes).
   */
  | {
      readonly type: "dropped";
      readonly sequence: number;
      readonly why: "duplicate" | "late" | "out-of-range";
    };

export interface ReorderOptions {
  /**
   * How far ahead of the missing number frames may run before it is given up on: frame `n + windowFrames`
   * arriving ends the wait for `n`. Default 8 (160 ms of 20 ms frames).
   */
  readonly windowFrames?: number;
  /**
   * How far ahead of the next expected number a frame may be and still count as a jump (the numbers
   * between reported as a gap). Further than this it is dropped as `out-of-range`: one absurd number
   * (9e15 after 5) must not declare every real frame after it late. Default 3000 (a minute of 20 ms frames).
   */
  readonly maxJumpFrames?: number;
  /** Also give up on a missing number once a frame after it has waited this long. Needs `now`. */
  readonly windowMs?: number;
  /** Epoch ms; only read when `windowMs` is set. */
  readonly now?: () => number;
  /**
   * The number the stream starts at. Default: the first one received, so a frame that overtakes
   * the very first one makes that one `late`.
   */
  readonly firstSequence?: number;
}

export interface ReorderStats {
  /** Frames passed on, in order. */
  readonly emitted: number;
  /** Frames that arrived ahead of a missing one and had to wait. */
  readonly reordered: number;
  readonly duplicates: number;
  readonly late: number;
  readonly outOfRange: number;
  /** Gap events. */
  readonly gaps: number;
  /** Sequence numbers given up on, across all gaps. */
  readonly missing: number;
  /** Frames waiting now. */
  readonly held: number;
}

export const DEFAULT_MAX_JUMP_FRAMES = 3000;

// Enough to tell a late frame from a duplicate for any realistic straggler.
const REMEMBERED_GAPS = 32;

/** One per participant stream. Pure apart from the injected clock; the caller acts on the events. */
export class SequenceReorderer<T> {
  readonly #windowFrames: number;
  readonly #maxJumpFrames: number;
  readonly #windowMs: number | undefined;
  readonly #now: () => number;
  #next: number | undefined;
  readonly #held = new Map<number, { item: T; arrivedAt: number }>();
  readonly #recentGaps: { from: number; to: number }[] = [];
  #stats = { emitted: 0, reordered: 0, duplicates: 0, late: 0, outOfRange: 0, gaps: 0, missing: 0 };

  constructor(options: ReorderOptions = {}) {
    const windowFrames = options.windowFrames ?? 8;
    if (!Number.isInteger(windowFrames) || windowFrames < 1)
      throw new RangeError("windowFrames must be an integer ≥ 1");
    const maxJumpFrames = options.maxJumpFrames ?? DEFAULT_MAX_JUMP_FRAMES;
    if (!Number.isInteger(maxJumpFrames) || maxJumpFrames < windowFrames)
      throw new RangeError("maxJumpFrames must be an integer ≥ windowFrames");
    this.#maxJumpFrames = maxJumpFrames;
    if (options.windowMs !== undefined && options.now === undefined)
      throw new RangeError("windowMs needs a now()");
    this.#windowFrames = windowFrames;
    this.#windowMs = options.windowMs;
    this.#now = options.now ?? (() => 0);
    this.#next = options.firstSequence;
  }

  /** The next sequence number expected, once known. */
  get next(): number | undefined {
    return this.#next;
  }

  get stats(): ReorderStats {
    return { ...this.#stats, held: this.#held.size };
  }

  push(sequence: number, item: T): ReorderEvent<T>[] {
    if (!Number.isSafeInteger(sequence) || sequence < 0)
      throw new RangeError("sequence must be a non-negative integer");
    const next = this.#next ?? sequence;
    if (sequence - next > this.#maxJumpFrames) {
      this.#stats.outOfRange += 1;
      return [{ type: "dropped", sequence, why: "out-of-range" }];
    }
    this.#next = next;
    if (sequence < next || this.#held.has(sequence)) {
      const why = sequence < next && this.#wasGivenUp(sequence) ? "late" : "duplicate";
      this.#stats[why === "late" ? "late" : "duplicates"] += 1;
      return [{ type: "dropped", sequence, why }];
    }

    this.#held.set(sequence, { item, arrivedAt: this.#now() });
    if (sequence !== next) this.#stats.reordered += 1;
    const events: ReorderEvent<T>[] = [];
    if (sequence >= next + this.#windowFrames) this.#skipTo(sequence - this.#windowFrames + 1, events);
    this.#giveUpOnStale(events);
    this.#releaseInOrder(events);
    return events;
  }

  /** Gives up on numbers whose followers waited `windowMs`; call when {@link nextDeadline} passes. */
  expire(): ReorderEvent<T>[] {
    const events: ReorderEvent<T>[] = [];
    this.#giveUpOnStale(events);
    this.#releaseInOrder(events);
    return events;
  }

  /** When {@link expire} will have something to do (epoch ms), if anything is held and `windowMs` is set. */
  nextDeadline(): number | undefined {
    if (this.#windowMs === undefined || this.#held.size === 0) return undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const { arrivedAt } of this.#held.values()) oldest = Math.min(oldest, arrivedAt);
    return oldest + this.#windowMs;
  }

  /**
   * Releases everything held, in order, with the gaps between. Given the stream's last number,
   * also reports the missing tail up to it.
   */
  flush(lastSequence?: number): ReorderEvent<T>[] {
    const events: ReorderEvent<T>[] = [];
    if (this.#held.size > 0) this.#skipTo(Math.max(...this.#held.keys()) + 1, events);
    if (lastSequence !== undefined) {
      const next = this.#next ?? 0;
      if (lastSequence >= next) this.#skipTo(lastSequence + 1, events);
    }
    return events;
  }

  /** Moves `next` up to `target`, emitting held frames below it and reporting the holes between them. */
  #skipTo(target: number, events: ReorderEvent<T>[]): void {
    let next = this.#next ?? target;
    const below = [...this.#held.keys()].filter((s) => s < target).sort((a, b) => a - b);
    for (const sequence of below) {
      if (sequence > next) this.#gap(next, sequence - 1, events);
      this.#emit(sequence, events);
      next = sequence + 1;
    }
    if (target > next) this.#gap(next, target - 1, events);
    this.#next = Math.max(next, target);
  }

  #giveUpOnStale(events: ReorderEvent<T>[]): void {
    if (this.#windowMs === undefined || this.#held.size === 0) return;
    const cutoff = this.#now() - this.#windowMs;
    let newestStale: number | undefined;
    for (const [sequence, { arrivedAt }] of this.#held) {
      if (arrivedAt <= cutoff && (newestStale === undefined || sequence > newestStale))
        newestStale = sequence;
    }
    if (newestStale !== undefined) this.#skipTo(newestStale, events);
  }

  #releaseInOrder(events: ReorderEvent<T>[]): void {
    while (this.#next !== undefined && this.#held.has(this.#next)) {
      this.#emit(this.#next, events);
      this.#next += 1;
    }
  }

  #emit(sequence: number, events: ReorderEvent<T>[]): void {
    const held = this.#held.get(sequence);
    if (held === undefined) return;
    this.#held.delete(sequence);
    this.#stats.emitted += 1;
    events.push({ type: "frame", sequence, item: held.item });
  }

  #gap(from: number, to: number, events: ReorderEvent<T>[]): void {
    this.#stats.gaps += 1;
    this.#stats.missing += to - from + 1;
    this.#recentGaps.push({ from, to });
    if (this.#recentGaps.length > REMEMBERED_GAPS) this.#recentGaps.shift();
    events.push({ type: "gap", from, to });
  }

  #wasGivenUp(sequence: number): boolean {
    return this.#recentGaps.some((gap) => sequence >= gap.from && sequence <= gap.to);
  }
}
