import { describe, expect, it } from "vitest";
import { AudioBatcher, type LanguageTag } from "../../../src/forward/batcher.js";

const es: LanguageTag = { code: "es-ES", confidence: 0.9, provisional: false };
const en: LanguageTag = { code: "en-US", confidence: 0.8, provisional: false };
const ramp = (n: number, from = 0) => Int16Array.from({ length: n }, (_, i) => from + i);

describe("AudioBatcher", () => {
  it("cuts 20 ms frames into 100 ms batches with consecutive per-channel sequence numbers", () => {
    const b = new AudioBatcher();
    const out = [];
    for (let f = 0; f < 11; f++) {
      out.push(...b.push("external", ramp(160, f * 160), es));
      out.push(...b.push("internal", ramp(160), en));
    }
    const ext = out.filter((x) => x.channel === "external");
    const int = out.filter((x) => x.channel === "internal");
    expect(ext.map((x) => [x.sequence, x.startSample, x.samples.length])).toEqual([
      [1, 0, 800],
      [2, 800, 800],
    ]);
    expect(int.map((x) => x.sequence)).toEqual([1, 2]);
    expect(ext[1]?.samples[0]).toBe(800);
    expect(int[0]?.language).toEqual(en);
    // One frame is pending; flush emits it as a short batch.
    expect(b.flush("external").map((x) => [x.sequence, x.startSample, x.samples.length])).toEqual([
      [3, 1600, 160],
    ]);
    expect(b.flush().map((x) => x.channel)).toEqual(["internal"]);
    expect(b.flush()).toEqual([]);
  });

  it("splits a push larger than a batch", () => {
    const b = new AudioBatcher({ batchMs: 100 });
    const out = b.push("external", ramp(2000), es);
    expect(out.map((x) => x.startSample)).toEqual([0, 800]);
    expect(b.flush()[0]?.samples.length).toBe(400);
  });

  it("ends the pending batch on a language change and on a jump in the timeline", () => {
    const b = new AudioBatcher();
    expect(b.push("external", ramp(320), es)).toEqual([]);
    const onChange = b.push("external", ramp(320), en);
    expect(onChange.map((x) => [x.sequence, x.language.code, x.samples.length])).toEqual([[1, "es-ES", 320]]);
    // A confidence change alone does not cut.
    expect(b.push("external", ramp(160), { ...en, confidence: 0.95 })).toEqual([]);
    const onJump = b.push("external", ramp(160), en, 8000);
    expect(onJump.map((x) => [x.sequence, x.startSample, x.samples.length, x.language.confidence])).toEqual([
      [2, 320, 480, 0.95],
    ]);
    expect(b.flush().map((x) => [x.sequence, x.startSample])).toEqual([[3, 8000]]);
  });

  it("continues from a snapshot (eviction) with the same numbering and pending audio", () => {
    const a = new AudioBatcher();
    a.push("external", ramp(800 + 300), es);
    const b = new AudioBatcher({}, JSON.parse(JSON.stringify(a.snapshot())));
    const out = b.push("external", ramp(500, 300), es);
    expect(out.map((x) => [x.sequence, x.startSample, x.samples[299], x.samples[300]])).toEqual([
      [2, 800, 1099, 300],
    ]);
    expect(b.nextSequence("external")).toBe(3);
    expect(b.nextSequence("internal")).toBe(1);
  });

  it("leaves out the sequence numbers of audio the sender lost, and keeps the timeline", () => {
    const b = new AudioBatcher();
    b.push("external", ramp(1000), es);
    const flushed = b.skip("external", 2400);
    expect(flushed.map((x) => [x.sequence, x.startSample, x.samples.length])).toEqual([[2, 800, 200]]);
    const after = b.push("external", ramp(800), es);
    // 2400 missing samples are three 100 ms batches: numbers 3, 4 and 5 are never sent.
    expect(after.map((x) => [x.sequence, x.startSample])).toEqual([[6, 3400]]);
  });
});
