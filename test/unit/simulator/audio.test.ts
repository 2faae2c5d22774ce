import { describe, expect, it } from "vitest";
import wavefile from "wavefile";
import { MULAW_TABLE } from "../../../src/media/pcmu";
import { loopedMulawFrames, pcmFrames, readWav, toneConversation } from "../../../tools/simulator/audio";

const rms = (s: Int16Array) => Math.sqrt(s.reduce((n, v) => n + v * v, 0) / Math.max(1, s.length));
/** Zero crossings per second: twice the frequency of a pure tone. */
const crossingsPerSecond = (s: Int16Array, rate: number) => {
  let n = 0;
  for (let i = 1; i < s.length; i++) if ((s[i - 1] as number) < 0 !== (s[i] as number) < 0) n++;
  return n / (s.length / rate);
};

describe("tone conversation", () => {
  it("alternates the customer and the agent with pauses between turns", () => {
    const [customer, agent] = toneConversation(4, 2) as [Int16Array, Int16Array];
    expect(customer.length).toBe(32_000);
    // 0-1.5 s customer only; 1.5-1.8 s silence; 1.8-3.3 s agent only; 3.3-3.6 s silence; then again.
    expect(rms(customer.subarray(0, 12_000))).toBeGreaterThan(5000);
    expect(rms(agent.subarray(0, 12_000))).toBe(0);
    expect(rms(customer.subarray(12_000, 14_400)) + rms(agent.subarray(12_000, 14_400))).toBe(0);
    expect(rms(agent.subarray(14_400, 26_400))).toBeGreaterThan(5000);
    expect(rms(customer.subarray(14_400, 26_400))).toBe(0);
    expect(rms(customer.subarray(28_800, 32_000))).toBeGreaterThan(5000);
    expect(crossingsPerSecond(customer.subarray(0, 12_000), 8000)).toBeCloseTo(880, -1);
    expect(crossingsPerSecond(agent.subarray(14_400, 26_400), 8000)).toBeCloseTo(1240, -1);
  });

  it("has the customer only on a mono call, and refuses a length that is not positive", () => {
    expect(toneConversation(1, 1)).toHaveLength(1);
    expect(() => toneConversation(0, 2)).toThrow(RangeError);
  });
});

describe("frames", () => {
  const left = Int16Array.from([100, 200, 300, 400, 500]);
  const right = Int16Array.from([-1, -2, -3, -4, -5]);

  it("interleaves PCMU external then internal, the last frame cut short, then ends", () => {
    const next = pcmFrames([left, right], "PCMU");
    const first = next(0, 2) as Uint8Array;
    expect(first).toHaveLength(4);
    // µ-law is lossy: the decoded samples are within a step of the originals, in channel order.
    const decoded = Array.from(first, (b) => MULAW_TABLE[b] as number);
    const expected = [100, -1, 200, -2];
    for (const [i, v] of decoded.entries())
      expect(Math.abs(v - (expected[i] as number))).toBeLessThanOrEqual(8);
    expect(next(2, 2)).toHaveLength(2); // one sample per channel left
    expect(next(3, 2)).toBeNull();
  });

  it("writes L16 little-endian and loops to exactly the requested length", () => {
    const next = pcmFrames([left, right], "L16", 7);
    const frame = next(1, 4) as Uint8Array; // samples 4,5,6,7 → 4 (500), then 0,1 looped, then cut at 7
    const view = new DataView(frame.buffer);
    expect(frame).toHaveLength(3 * 2 * 2);
    expect([view.getInt16(0, true), view.getInt16(2, true)]).toEqual([500, -5]);
    expect([view.getInt16(4, true), view.getInt16(6, true)]).toEqual([100, -1]);
    expect([view.getInt16(8, true), view.getInt16(10, true)]).toEqual([200, -2]);
    expect(next(2, 4)).toBeNull();
  });

  it("loops µ-law channels of different lengths each on its own", () => {
    const next = loopedMulawFrames([Uint8Array.from([1, 2, 3]), Uint8Array.from([9, 8])]);
    expect(Array.from(next(0, 4) as Uint8Array)).toEqual([1, 9, 2, 8, 3, 9, 1, 8]);
    expect(Array.from(next(1, 4) as Uint8Array)).toEqual([2, 9, 3, 8, 1, 9, 2, 8]);
    const limited = loopedMulawFrames([Uint8Array.from([1])], 3);
    expect(limited(1, 2)).toHaveLength(1);
    expect(limited(2, 2)).toBeNull();
    expect(() => loopedMulawFrames([new Uint8Array(0)])).toThrow(/empty/);
  });
});

describe("readWav (wavefile)", () => {
  const sine = (rate: number, hz: number, seconds: number) =>
    Int16Array.from({ length: rate * seconds }, (_, i) =>
      Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)),
    );

  it("resamples a 16 kHz stereo file to 8 kHz, keeping each channel's pitch and order", () => {
    const wav = new wavefile.WaveFile();
    wav.fromScratch(2, 16_000, "16", [sine(16_000, 440, 1), sine(16_000, 1000, 1)]);
    const [external, internal] = readWav(wav.toBuffer()) as [Int16Array, Int16Array];
    expect(external.length).toBeGreaterThanOrEqual(7990);
    expect(external.length).toBeLessThanOrEqual(8010);
    expect(crossingsPerSecond(external, 8000)).toBeCloseTo(880, -1);
    expect(crossingsPerSecond(internal, 8000)).toBeCloseTo(2000, -1);
  });

  it("reads a mono file as one channel", () => {
    const wav = new wavefile.WaveFile();
    wav.fromScratch(1, 16_000, "16", sine(16_000, 440, 1));
    const channels = readWav(wav.toBuffer());
    expect(channels).toHaveLength(1);
    expect(crossingsPerSecond(channels[0] as Int16Array, 8000)).toBeCloseTo(880, -1);
  });

  it("filters what 8 kHz cannot carry instead of folding it back into the band", () => {
    const wav = new wavefile.WaveFile();
    wav.fromScratch(1, 16_000, "16", sine(16_000, 6000, 1));
    const [out] = readWav(wav.toBuffer()) as [Int16Array];
    // Linear interpolation would alias 6 kHz to a loud 2 kHz tone; the low-pass filter removes most of it.
    expect(rms(out.subarray(800))).toBeLessThan(8000 / Math.SQRT2 / 4);
  });

  it("decodes a µ-law WAV at 8 kHz sample for sample", () => {
    const mulaw = Uint8Array.from([0xff, 0x80, 0x00, 0x7f, 0x10, 0x9c]);
    const wav = new wavefile.WaveFile();
    wav.fromScratch(1, 8000, "8m", mulaw);
    const [out] = readWav(wav.toBuffer()) as [Int16Array];
    expect(Array.from(out)).toEqual(Array.from(mulaw, (b) => MULAW_TABLE[b]));
  });

  it("refuses files it cannot stream", () => {
    const wav = new wavefile.WaveFile();
    wav.fromScratch(3, 8000, "16", [new Int16Array(8), new Int16Array(8), new Int16Array(8)]);
    expect(() => readWav(wav.toBuffer())).toThrow(/3 channels/);
    expect(() => readWav(new TextEncoder().encode("not a wav at all"))).toThrow(/not a readable WAV/);
  });
});
