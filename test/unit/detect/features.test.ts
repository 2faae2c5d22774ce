import { describe, expect, it } from "vitest";
import {
  HOP,
  LOG_FLOOR,
  LogMelExtractor,
  MEL_BANDS,
  melFilterbank,
  SAMPLE_RATE,
  type SpectralFrame,
  StreamingCmn,
  StreamingCvn,
  WINDOW,
} from "../../../src/detect/features.js";
import { tones } from "./signals.js";

function frames(x: Int16Array, chunk = x.length): Float32Array[] {
  const out: Float32Array[] = [];
  const ex = new LogMelExtractor((f: SpectralFrame) => out.push(Float32Array.from(f.logMel)));
  for (let i = 0; i < x.length; i += chunk) ex.push(x.subarray(i, i + chunk));
  return out;
}

/** The band whose triangle peaks closest to `hz`. */
function bandOf(hz: number): number {
  const fb = melFilterbank();
  let best = 0;
  let bestW = -1;
  fb.forEach((f, b) => {
    const k = Math.round(hz / (SAMPLE_RATE / 256)) - f.start;
    const w = f.weights[k] ?? 0;
    if (w > bestW) {
      bestW = w;
      best = b;
    }
  });
  return best;
}

describe("LogMelExtractor", () => {
  it("emits one frame per 10 ms hop once the first 25 ms window is full", () => {
    const n = SAMPLE_RATE; // 1 s
    expect(frames(new Int16Array(n)).length).toBe(Math.floor((n - WINDOW) / HOP) + 1);
  });

  it("gives the floor on digital silence", () => {
    for (const f of frames(new Int16Array(4000))) for (const v of f) expect(v).toBeCloseTo(LOG_FLOOR, 5);
  });

  it.each([500, 1000, 2000, 3000])("puts a %i Hz tone's energy in the band centred on it", (hz) => {
    const fs = frames(tones([hz], 0.5, -20));
    const mid = fs[20] as Float32Array;
    let arg = 0;
    for (let b = 1; b < MEL_BANDS; b++) if ((mid[b] as number) > (mid[arg] as number)) arg = b;
    expect(arg).toBe(bandOf(hz));
    // Far bands sit orders of magnitude below (natural log: 10 = 43 dB).
    expect((mid[arg] as number) - (mid[(arg + 8) % MEL_BANDS] as number)).toBeGreaterThan(8);
  });

  it("tracks level: +20 dB raises every band's log energy by ln(100)", () => {
    const a = frames(tones([1000], 0.3, -30))[10] as Float32Array;
    const b = frames(tones([1000], 0.3, -10))[10] as Float32Array;
    const k = bandOf(1000);
    expect((b[k] as number) - (a[k] as number)).toBeCloseTo(Math.log(100), 1);
  });

  it("does not depend on how the stream is chunked", () => {
    const x = tones([700, 1900], 0.4, -20);
    const whole = frames(x);
    for (const chunk of [1, 7, 80, 160, 333]) {
      const parts = frames(x, chunk);
      expect(parts.length).toBe(whole.length);
      for (let i = 0; i < whole.length; i++)
        expect(Array.from(parts[i] as Float32Array)).toEqual(Array.from(whole[i] as Float32Array));
    }
  });
});

describe("StreamingCmn", () => {
  it("removes a constant offset (a gain change) after it is learnt", () => {
    const cmn = new StreamingCmn(2, 10);
    const out = new Float32Array(2);
    for (let i = 0; i < 50; i++) {
      const x = Float32Array.of(5 + (i % 2), -3);
      cmn.update(x);
      cmn.apply(x, out);
    }
    expect(Math.abs(out[1] as number)).toBeLessThan(1e-5);
    expect(Math.abs(out[0] as number)).toBeLessThan(0.6);
  });
});

describe("StreamingCvn", () => {
  it("starts from its prior variance (6, worth 30 frames), as train.py's streaming_cvn does", () => {
    const cvn = new StreamingCvn(1);
    const y = Float32Array.of(3);
    cvn.apply(y);
    expect(y[0]).toBeCloseTo(3 / Math.sqrt((6 * 30 + 9) / 31), 6);
  });

  it("brings a band of any spread to unit variance, and leaves silence of the band at zero", () => {
    const cvn = new StreamingCvn(2);
    let seed = 7;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647 - 0.5;
    };
    let sq = 0;
    let n = 0;
    for (let i = 0; i < 3000; i++) {
      const y = Float32Array.of(20 * rand(), 0); // standard deviation 20/sqrt(12), about 5.8
      cvn.apply(y);
      if (i >= 1000) {
        sq += (y[0] as number) ** 2;
        n++;
      }
      expect(y[1]).toBe(0);
    }
    expect(Math.sqrt(sq / n)).toBeGreaterThan(0.9);
    expect(Math.sqrt(sq / n)).toBeLessThan(1.1);
  });

  it("forgets on reset", () => {
    const a = new StreamingCvn(1);
    const b = new StreamingCvn(1);
    for (let i = 0; i < 100; i++) a.apply(Float32Array.of(10));
    a.reset();
    const ya = Float32Array.of(2);
    const yb = Float32Array.of(2);
    a.apply(ya);
    b.apply(yb);
    expect(ya[0]).toBe(yb[0]);
  });
});
