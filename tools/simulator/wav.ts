// Minimal WAV reader for the simulator: PCM 16-bit or G.711 µ-law, any rate, mono or stereo,
// resampled to the 8 kHz Genesys streams.

import { MULAW_TABLE } from "../../src/media/pcmu";

export interface Audio {
  rate: number;
  /** One Int16Array per channel. */
  channels: Int16Array[];
}

export function readWav(bytes: Uint8Array): Audio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a RIFF/WAVE file");
  let format = 0;
  let channels = 0;
  let rate = 0;
  let bits = 0;
  let data: Uint8Array | null = null;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    if (id === "fmt ") {
      format = view.getUint16(at + 8, true);
      channels = view.getUint16(at + 10, true);
      rate = view.getUint32(at + 12, true);
      bits = view.getUint16(at + 22, true);
    } else if (id === "data") {
      data = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + size));
    }
    at += 8 + size + (size % 2);
  }
  if (!data || channels < 1 || channels > 2)
    throw new Error("WAV needs a fmt chunk, a data chunk and 1 or 2 channels");
  const isPcm16 = (format === 1 || format === 0xfffe) && bits === 16;
  const isMulaw = format === 7 && bits === 8;
  if (!isPcm16 && !isMulaw)
    throw new Error(`unsupported WAV encoding (format ${format}, ${bits} bits): use 16-bit PCM or µ-law`);
  const bytesPerSample = isPcm16 ? 2 : 1;
  const frames = Math.floor(data.length / (bytesPerSample * channels));
  const out = Array.from({ length: channels }, () => new Int16Array(frames));
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      const at = (i * channels + c) * bytesPerSample;
      (out[c] as Int16Array)[i] = isPcm16
        ? dv.getInt16(at, true)
        : (MULAW_TABLE[data[at] as number] as number);
    }
  }
  return { rate, channels: out };
}

/** Linear-interpolation resampling; enough for a simulator feeding a telephone-band stream. */
export function resample(samples: Int16Array, from: number, to: number): Int16Array {
  if (from === to) return samples;
  const out = new Int16Array(Math.floor((samples.length * to) / from));
  const step = from / to;
  for (let i = 0; i < out.length; i++) {
    const x = i * step;
    const i0 = Math.floor(x);
    const a = samples[i0] ?? 0;
    const b = samples[i0 + 1] ?? a;
    out[i] = Math.round(a + (b - a) * (x - i0));
  }
  return out;
}

/** Writes 16-bit PCM WAV (used to generate clips and by the dev transcriber's --record). */
export function writeWav(channels: Int16Array[], rate: number): Uint8Array {
  const frames = channels[0]?.length ?? 0;
  const dataBytes = frames * channels.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const put = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i));
  };
  put(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);
  put(8, "WAVE");
  put(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, channels.length, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * channels.length * 2, true);
  view.setUint16(32, channels.length * 2, true);
  view.setUint16(34, 16, true);
  put(36, "data");
  view.setUint32(40, dataBytes, true);
  for (let i = 0, at = 44; i < frames; i++) {
    for (const ch of channels) {
      view.setInt16(at, ch[i] ?? 0, true);
      at += 2;
    }
  }
  return out;
}
