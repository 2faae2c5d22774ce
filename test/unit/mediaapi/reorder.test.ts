import { describe, expect, it } from "vitest";
import { type ReorderEvent, SequenceReorderer } from "../../../src/mediaapi/reorder";

/** Pushes each number (item = its own number) and returns everything emitted, compactly. */
function run(reorderer: SequenceReorderer<number>, sequences: number[]): string[] {
  return sequences.flatMap((s) => reorderer.push(s, s)).map(show);
}

function show(event: ReorderEvent<number>): string {
  switch (event.type) {
    case "frame":
      return String(event.item);
    case "gap":
      return `gap ${event.from}-${event.to}`;
    case "dropped":
      return `${event.why} ${event.sequence}`;
  }
}

describe("SequenceReorderer", () => {
  it("passes an in-order stream straight through", () => {
    const r = new SequenceReorderer<number>();
    expect(run(r, [0, 1, 2, 3])).toEqual(["0", "1", "2", "3"]);
    expect(r.stats).toMatchObject({ emitted: 4, reordered: 0, gaps: 0, held: 0 });
  });

  it("restores order within the window", () => {
    const r = new SequenceReorderer<number>();
    expect(run(r, [0, 2, 3, 1, 5, 4])).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(r.stats).toMatchObject({ emitted: 6, reordered: 3, gaps: 0, missing: 0 });
  });

  it("drops and counts duplicates, whether already emitted or still held", () => {
    const r = new SequenceReorderer<number>();
    expect(run(r, [0, 0, 2, 2, 1])).toEqual(["0", "duplicate 0", "duplicate 2", "1", "2"]);
    expect(r.stats.duplicates).toBe(2);
  });

  it("reports a number that falls out of the window as a gap, then moves on", () => {
    const r = new SequenceReorderer<number>({ windowFrames: 4 });
    // 1 never comes: 2..4 wait; 5 is 4 ahead of 1, so 1 is given up.
    expect(run(r, [0, 2, 3, 4])).toEqual(["0"]);
    expect(r.stats.held).toBe(3);
    expect(run(r, [5])).toEqual(["gap 1-1", "2", "3", "4", "5"]);
    expect(r.stats).toMatchObject({ gaps: 1, missing: 1, held: 0 });
  });

  it("reports a jump far ahead as one gap per hole, without walking the range", () => {
    const r = new SequenceReorderer<number>({ windowFrames: 8, maxJumpFrames: 2_000_000 });
    expect(run(r, [0, 3, 1_000_000])).toEqual(["0", "gap 1-2", "3", "gap 4-999992"]);
    expect(r.next).toBe(999_993);
    expect(r.stats).toMatchObject({ gaps: 2, missing: 2 + 999_989, held: 1 });
    expect(run(r, [999_993, 999_994, 999_995, 999_996, 999_997, 999_998, 999_999])).toHaveLength(8);
  });

  it("drops a number more than maxJumpFrames ahead as out-of-range, changing nothing", () => {
    const r = new SequenceReorderer<number>({ windowFrames: 8 });
    expect(run(r, [1, 2, 3, 4, 5, 9e15, 3007])).toEqual([
      "1",
      "2",
      "3",
      "4",
      "5",
      "out-of-range 9000000000000000",
      "out-of-range 3007",
    ]);
    expect(r.next).toBe(6);
    expect(run(r, [6, 3005])).toEqual(["6", "gap 7-2997"]);
    expect(r.stats).toMatchObject({ outOfRange: 2, late: 0, gaps: 1 });
    expect(() => new SequenceReorderer({ windowFrames: 8, maxJumpFrames: 4 })).toThrow(RangeError);
  });

  it("calls a frame that arrives after its gap was reported late, not duplicate", () => {
    const r = new SequenceReorderer<number>({ windowFrames: 2 });
    expect(run(r, [0, 2, 3])).toEqual(["0", "gap 1-1", "2", "3"]);
    expect(run(r, [1, 3])).toEqual(["late 1", "duplicate 3"]);
    expect(r.stats).toMatchObject({ late: 1, duplicates: 1 });
  });

  it("anchors on the first number received unless told the first sequence", () => {
    const anchored = new SequenceReorderer<number>();
    expect(run(anchored, [5, 4])).toEqual(["5", "duplicate 4"]);
    const told = new SequenceReorderer<number>({ firstSequence: 4 });
    expect(run(told, [5, 4])).toEqual(["4", "5"]);
  });

  it("gives up on a missing number after windowMs, via expire() and nextDeadline()", () => {
    let now = 1000;
    const r = new SequenceReorderer<number>({ windowFrames: 8, windowMs: 100, now: () => now });
    expect(run(r, [0, 2])).toEqual(["0"]);
    expect(r.nextDeadline()).toBe(1100);
    now = 1099;
    expect(r.expire()).toEqual([]);
    now = 1100;
    expect(r.expire().map(show)).toEqual(["gap 1-1", "2"]);
    expect(r.nextDeadline()).toBeUndefined();
  });

  it("applies the time window on push too", () => {
    let now = 0;
    const r = new SequenceReorderer<number>({ windowMs: 50, now: () => now });
    expect(run(r, [0, 2])).toEqual(["0"]);
    now = 60;
    expect(run(r, [4])).toEqual(["gap 1-1", "2"]);
    now = 200;
    expect(run(r, [5])).toEqual(["gap 3-3", "4", "5"]);
  });

  it("flush() releases what is held, reporting gaps between and up to the last number", () => {
    const r = new SequenceReorderer<number>();
    expect(run(r, [0, 2, 5])).toEqual(["0"]);
    expect(r.flush(7).map(show)).toEqual(["gap 1-1", "2", "gap 3-4", "5", "gap 6-7"]);
    expect(r.stats).toMatchObject({ emitted: 3, gaps: 3, missing: 5, held: 0 });
    expect(r.flush().map(show)).toEqual([]);
    expect(run(r, [8])).toEqual(["8"]);
  });

  it("refuses invalid sequence numbers and options", () => {
    const r = new SequenceReorderer<number>();
    expect(() => r.push(-1, 0)).toThrow(RangeError);
    expect(() => r.push(1.5, 0)).toThrow(RangeError);
    expect(() => new SequenceReorderer({ windowFrames: 0 })).toThrow(RangeError);
    expect(() => new SequenceReorderer({ windowMs: 10 })).toThrow(RangeError);
  });

  it("keeps order and accounts for every number under a shuffled stream with losses", () => {
    // Deterministic shuffle within a 4-frame span, with 10% of frames lost.
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const sent = Array.from({ length: 500 }, (_, i) => i).filter((i) => i === 0 || random() > 0.1);
    const arrival = sent.map((s) => ({ s, at: s + random() * 4 })).sort((a, b) => a.at - b.at);
    // Frame 1 may overtake frame 0, so the stream's start is given rather than taken from the first arrival.
    const r = new SequenceReorderer<number>({ windowFrames: 8, firstSequence: 0 });
    const events = arrival.flatMap(({ s }) => r.push(s, s)).concat(r.flush(499));
    const frames = events.flatMap((e) => (e.type === "frame" ? [e.sequence] : []));
    expect(frames).toEqual(sent);
    const covered = events.flatMap((e) =>
      e.type === "frame"
        ? [e.sequence]
        : e.type === "gap"
          ? Array.from({ length: e.to - e.from + 1 }, (_, i) => e.from + i)
          : [],
    );
    expect(covered).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(r.stats.missing).toBe(500 - sent.length);
  });
});
