// Binary AudioHook frames → one Int16Array of PCM per negotiated channel.

import { bytesPerInstant, type MediaFormat } from "./format";
import { MULAW_TABLE } from "./pcmu";

/** PCM of one frame, split per channel, placed on the stream timeline. */
export interface PcmChunk {
  readonly media: MediaFormat;
  /** Index i holds the samples of media.channels[i]. */
  readonly channels: readonly Int16Array[];
  /** Position of the first sample on the stream timeline, in samples. */
  readonly startSample: number;
}

export type FrameError =
  | { code: "frame-empty"; info: string }
  | { code: "frame-misaligned"; info: string }
  | { code: "frame-too-large"; info: string };

export type DecodedFrame = { ok: true; channels: Int16Array[] } | { ok: false; error: FrameError };

/**
 * Checks a frame against the negotiated format and splits it per channel.
 * `maxSamples` bounds the samples per channel of one frame (the oversize limit).
 */
export function decodeFrame(bytes: Uint8Array, media: MediaFormat, maxSamples: number): DecodedFrame {
  const instant = bytesPerInstant(media);
  if (bytes.length === 0) {
    return { ok: false, error: { code: "frame-empty", info: "empty audio frame" } };
  }
  if (bytes.length % instant !== 0) {
    return {
      ok: false,
      error: {
        code: "frame-misaligned",
        info: `audio frame of ${bytes.length} bytes is not a whole number of ${media.format} ${media.channels.length}-channel samples (${instant} bytes each)`,
      },
    };
  }
  const samples = bytes.length / instant;
  if (samples > maxSamples) {
    return {
      ok: false,
      error: {
        code: "frame-too-large",
        info: `audio frame holds ${samples} samples per channel; the limit is ${maxSamples} (${maxSamples / media.rate} s)`,
      },
    };
  }
  const count = media.channels.length;
  const out: Int16Array[] = [];
  for (let c = 0; c < count; c++) out.push(new Int16Array(samples));
  if (media.format === "PCMU") {
    // One pass per channel over its interleaved bytes: a fixed stride the JIT keeps tight.
    for (let c = 0; c < count; c++) {
      const pcm = out[c] as Int16Array;
      for (let i = 0, b = c; i < samples; i++, b += count) pcm[i] = MULAW_TABLE[bytes[b] as number] as number;
    }
  } else {
    // L16 frames are little-endian 16-bit samples (as Genesys sends them); DataView keeps that explicit.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0, b = 0; i < samples; i++) {
      for (let c = 0; c < count; c++, b += 2) (out[c] as Int16Array)[i] = view.getInt16(b, true);
    }
  }
  return { ok: true, channels: out };
}
