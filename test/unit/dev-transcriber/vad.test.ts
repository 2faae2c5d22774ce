import { describe, expect, it } from "vitest";
import { EnergyVad } from "../../../tools/dev-transcriber/vad.js";
import { concat, silence, voiced } from "../forward/audio-fixtures.js";

describe("EnergyVad", () => {
  it("finds an utterance within a frame, reported after the 300 ms hangover", () => {
    const vad = new EnergyVad({ sampleRate: 8000 });
    expect(vad.push(concat(silence(1), voiced(1.5)), 0)).toEqual([]);
    // 280 ms of silence: not yet over.
    expect(vad.push(silence(0.28), 20_000)).toEqual([]);
    expect(vad.push(silence(0.04), 22_240)).toEqual([{ start: 8000, end: 20_000 }]);
  });

  it("drops clicks shorter than the minimum and ends speech on finish()", () => {
    const vad = new EnergyVad({ sampleRate: 8000 });
    expect(vad.push(concat(silence(0.5), voiced(0.06), silence(0.5)), 0)).toEqual([]);
    vad.push(voiced(0.5), 8800);
    expect(vad.finish()).toEqual({ start: 8800, end: 12_800 });
    expect(vad.finish()).toBeUndefined();
  });

  it("follows positions across a jump in the timeline", () => {
    const vad = new EnergyVad({ sampleRate: 8000 });
    vad.push(silence(0.1), 0);
    vad.push(voiced(0.5), 80_000);
    expect(vad.push(silence(0.4), 84_000)).toEqual([{ start: 80_000, end: 84_000 }]);
  });
});
