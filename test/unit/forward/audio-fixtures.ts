// Generated test audio at 8 kHz: quiet line noise and a voiced "speech" tone at speech level.

/** Deterministic noise at about -60 dBFS. */
export function silence(seconds: number, rate = 8000, seed = 1): Int16Array {
  const out = new Int16Array(Math.round(seconds * rate));
  let x = seed;
  for (let i = 0; i < out.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = ((x / 0x7fffffff) * 2 - 1) * 50;
  }
  return out;
}

/** 200 Hz with four harmonics, peak about -12 dBFS (RMS about -20 dBFS). */
export function voiced(seconds: number, rate = 8000): Int16Array {
  const out = new Int16Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    let v = 0;
    for (let h = 1; h <= 5; h++) v += Math.sin(2 * Math.PI * 200 * h * t) / h;
    out[i] = Math.round(v * 4000);
  }
  return out;
}

// One concatenation for every test signal.
export { concat } from "../detect/signals.js";

/** Splits into 20 ms frames, like AudioHook delivers them. */
export function* frames(samples: Int16Array, frameSamples = 160): Generator<Int16Array> {
  for (let i = 0; i < samples.length; i += frameSamples) yield samples.subarray(i, i + frameSamples);
}
