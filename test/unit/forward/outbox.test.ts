import { describe, expect, it } from "vitest";
import type { AudioBatch, ForwardChannel } from "../../../src/forward/batcher.js";
import { MemoryOutboxStore, Outbox } from "../../../src/forward/outbox.js";

const batch = (channel: ForwardChannel, sequence: number, n = 800): AudioBatch => ({
  channel,
  sequence,
  startSample: (sequence - 1) * n,
  samples: new Int16Array(n),
  language: { code: "es-ES", confidence: 1, provisional: false },
});

describe("Outbox", () => {
  it("keeps batches in order until acknowledged, per channel", () => {
    const o = new Outbox(new MemoryOutboxStore());
    for (let s = 1; s <= 3; s++) {
      o.enqueue(batch("external", s));
      o.enqueue(batch("internal", s));
    }
    expect(o.next(3).map((b) => `${b.channel[0]}${b.sequence}`)).toEqual(["e1", "i1", "e2"]);
    // Peeking does not remove: an unacknowledged batch is sent again.
    expect(o.next(1)[0]?.sequence).toBe(1);
    expect(o.acknowledge([{ channel: "external", sequence: 2 }])).toBe(2);
    expect(o.next(10).map((b) => `${b.channel[0]}${b.sequence}`)).toEqual(["i1", "i2", "e3", "i3"]);
    expect(o.sizeInSamples).toBe(4 * 800);
    // A repeated or stale acknowledgement removes nothing more.
    expect(o.acknowledge([{ channel: "external", sequence: 1 }])).toBe(0);
    o.acknowledge([
      { channel: "external", sequence: 3 },
      { channel: "internal", sequence: 3 },
    ]);
    expect(o.isEmpty).toBe(true);
  });

  it("refuses past its bound with ERR_OUTBOX_FULL and stores nothing then", () => {
    // 1 s per channel, 2 channels: 16000 samples = 20 batches of 100 ms.
    const o = new Outbox(new MemoryOutboxStore(), { maxBufferedMs: 1000 });
    expect(o.maxSamples).toBe(16_000);
    for (let s = 1; s <= 20; s++) expect(o.enqueue(batch("external", s)).ok).toBe(true);
    const refused = o.enqueue(batch("external", 21));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.code).toBe("ERR_OUTBOX_FULL");
    expect(o.count).toBe(20);
    o.acknowledge([{ channel: "external", sequence: 1 }]);
    expect(o.enqueue(batch("external", 21)).ok).toBe(true);
  });

  it("defaults to 60 s of audio per channel for two channels", () => {
    expect(new Outbox(new MemoryOutboxStore()).maxSamples).toBe(60 * 8000 * 2);
  });
});
