import { describe, expect, it } from "vitest";
import type { AudioBatch, ForwardChannel } from "../../../src/forward/batcher.js";
import { Outbox } from "../../../src/forward/outbox.js";

const batch = (channel: ForwardChannel, sequence: number, n = 800): AudioBatch => ({
  channel,
  sequence,
  startSample: (sequence - 1) * n,
  samples: new Int16Array(n),
  language: { code: "es-ES", confidence: 1, provisional: false },
});
const names = (batches: AudioBatch[]) => batches.map((b) => `${b.channel[0]}${b.sequence}`);
const stereo = 60 * 8000 * 2;

describe("Outbox", () => {
  it("keeps batches in order until acknowledged, per channel", () => {
    const o = new Outbox({ maxSamples: stereo });
    for (let s = 1; s <= 3; s++) {
      o.enqueue(batch("external", s));
      o.enqueue(batch("internal", s));
    }
    expect(names(o.next(3))).toEqual(["e1", "i1", "e2"]);
    // Peeking does not remove: an unacknowledged batch is sent again.
    expect(o.next(1)[0]?.sequence).toBe(1);
    expect(o.acknowledge([{ channel: "external", sequence: 2 }]).removed).toHaveLength(2);
    expect(names(o.next(10))).toEqual(["i1", "i2", "e3", "i3"]);
    expect(o.sizeInSamples).toBe(4 * 800);
    // A repeated or stale acknowledgement removes nothing more.
    expect(o.acknowledge([{ channel: "external", sequence: 1 }]).removed).toHaveLength(0);
    o.acknowledge([
      { channel: "external", sequence: 3 },
      { channel: "internal", sequence: 3 },
    ]);
    expect(o.isEmpty).toBe(true);
    expect(o.sizeInSamples).toBe(0);
  });

  it("refuses past its bound with ERR_OUTBOX_FULL and keeps nothing then", () => {
    // 1 s of one channel: 8000 samples = 10 batches of 100 ms.
    const o = new Outbox({ maxSamples: 8000 });
    for (let s = 1; s <= 10; s++) expect(o.enqueue(batch("external", s)).ok).toBe(true);
    const refused = o.enqueue(batch("external", 11));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.code).toBe("ERR_OUTBOX_FULL");
    expect(o.count).toBe(10);
    o.acknowledge([{ channel: "external", sequence: 1 }]);
    expect(o.enqueue(batch("external", 11)).ok).toBe(true);
  });

  it("stops sending at a boundary mark until everything before it is acknowledged", () => {
    const o = new Outbox({ maxSamples: stereo });
    o.enqueue(batch("external", 1));
    o.addMark("paused");
    o.enqueue(batch("external", 2));
    expect(names(o.next(10))).toEqual(["e1"]);
    expect(o.markReached()).toBe(false);
    o.acknowledge([{ channel: "external", sequence: 1 }]);
    expect(o.markReached()).toBe(true);
    expect(o.next(10)).toEqual([]);
    expect(o.drained).toBe(false);
    o.removeMark();
    expect(names(o.next(10))).toEqual(["e2"]);
  });

  it("spills only what was not acknowledged promptly, once, and says which durable copies can go", () => {
    const o = new Outbox({ maxSamples: stereo });
    o.enqueue(batch("external", 1), 1000);
    o.enqueue(batch("internal", 1), 1000);
    o.enqueue(batch("external", 2), 1400);
    // At 1600 with a 500 ms allowance, only the batches from 1000 are overdue.
    expect(names(o.spill(1100).map((e) => e.batch))).toEqual(["e1", "i1"]);
    expect(o.spill(1100)).toEqual([]);
    expect(names(o.spill(Number.POSITIVE_INFINITY).map((e) => e.batch))).toEqual(["e2"]);
    const acked = o.acknowledge([{ channel: "external", sequence: 1 }]);
    expect(acked.spilledUpTo).toEqual({ external: 1 });
  });

  it("restores spilled batches and marks after a wake-up, with ids that never go back", () => {
    const a = new Outbox({ maxSamples: stereo });
    a.enqueue(batch("external", 1));
    a.enqueue(batch("external", 2));
    a.addMark("closed");
    const spilled = a.spill(Number.POSITIVE_INFINITY);
    const b = new Outbox({ maxSamples: stereo });
    // The record that saved nextId may be older than the spill: the spilled ids still win.
    b.restore(spilled, a.marks, 1);
    expect(b.nextId).toBe(3);
    expect(b.sizeInSamples).toBe(1600);
    expect(names(b.next(10))).toEqual(["e1", "e2"]);
    b.enqueue(batch("external", 3));
    expect(names(b.next(10))).toEqual(["e1", "e2"]);
  });
});
