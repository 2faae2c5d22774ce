// Deterministic test signals at 8 kHz: call-progress tones, DTMF, noise and a synthetic hold-music melody.

export const SR = 8000;

/** Small seeded PRNG so generated noise is the same on every run. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function dbfsToAmp(db: number): number {
  return 32768 * 10 ** (db / 20);
}

/** Sum of sines (Hz) at a level per tone (dBFS peak), gated by an on/off cadence in seconds. */
export function tones(
  freqs: number[],
  seconds: number,
  levelDb = -15,
  cadence?: [number, number],
): Int16Array {
  const n = Math.round(seconds * SR);
  const out = new Int16Array(n);
  const a = dbfsToAmp(levelDb);
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    if (cadence) {
      const phase = t % (cadence[0] + cadence[1]);
      if (phase >= cadence[0]) continue;
    }
    let v = 0;
    for (const f of freqs) v += a * Math.sin(2 * Math.PI * f * t);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

export function noise(seconds: number, levelDb: number, seed = 1): Int16Array {
  const n = Math.round(seconds * SR);
  const r = rng(seed);
  const a = dbfsToAmp(levelDb) * Math.sqrt(3);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round((r() * 2 - 1) * a);
  return out;
}

export function mix(...parts: Int16Array[]): Int16Array {
  const n = Math.max(...parts.map((p) => p.length));
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (const p of parts) v += p[i] ?? 0;
    out[i] = Math.max(-32768, Math.min(32767, v));
  }
  return out;
}

import { concat } from "../../../tools/lid/pcm.js";

export { concat };

const DTMF_ROWS = [697, 770, 852, 941];
const DTMF_COLS = [1209, 1336, 1477];

/** A dialled number: 100 ms digits with 100 ms gaps, each a row+column tone pair. */
export function dtmf(digits: number): Int16Array {
  const parts: Int16Array[] = [];
  for (let d = 0; d < digits; d++) {
    const row = DTMF_ROWS[d % 4] as number;
    const col = DTMF_COLS[(d * 7) % 3] as number;
    parts.push(tones([row, col], 0.1, -12), new Int16Array(800));
  }
  return concat(...parts);
}

/** Hold music stand-in: a melody of 250-500 ms notes, each with harmonics, over a sustained bass note. */
export function holdMusic(seconds: number, seed = 3): Int16Array {
  const r = rng(seed);
  const n = Math.round(seconds * SR);
  const out = new Int16Array(n);
  const scale = [262, 294, 330, 349, 392, 440, 494, 523, 587, 659];
  let i = 0;
  while (i < n) {
    const len = Math.round((0.25 + r() * 0.25) * SR);
    const f0 = scale[Math.floor(r() * scale.length)] as number;
    const bass = (scale[Math.floor(r() * 4)] as number) / 2;
    for (let k = 0; k < len && i < n; k++, i++) {
      const t = i / SR;
      const env = Math.min(1, k / 80) * Math.exp((-2 * k) / len);
      let v = 0;
      for (let h = 1; h <= 4; h++) v += (Math.sin(2 * Math.PI * f0 * h * t) / h) * env;
      v += 0.5 * Math.sin(2 * Math.PI * bass * 3 * t);
      out[i] = Math.round(v * dbfsToAmp(-18));
    }
  }
  return out;
}
