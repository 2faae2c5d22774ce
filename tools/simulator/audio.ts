// The audio a simulated call sends: a WAV file (read with the `wavefile` package), a synthetic tone
// conversation, or raw µ-law clips, cut into interleaved AudioHook frames at 8 kHz.
//
// Why `wavefile` rather than a hand-written reader: it reads every WAV a user is likely to have (RIFF,
// RIFX and RF64 containers, 8/16/24/32-bit PCM, float, µ-law and A-law) and resamples with an
// anti-aliasing low-pass filter; the reader it replaces took 16-bit PCM and µ-law only and resampled
// 16/44.1 kHz to 8 kHz by linear interpolation, which folds everything above 4 kHz back into the band.
// It is MIT-licensed, has no dependencies and ships its own types.

import wavefile from "wavefile";
import { encodeMulawSample } from "../../src/media/pcmu";

export const RATE = 8000;
export type AudioFormat = "PCMU" | "L16";

/** WAV bytes → one Int16Array per channel (1 or 2) at 8 kHz. */
export function readWav(bytes: Uint8Array): Int16Array[] {
  const wav = new wavefile.WaveFile();
  try {
    wav.fromBuffer(bytes);
  } catch (err) {
    throw new Error(`not a readable WAV file: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Copied out: wavefile replaces (and resets) its fmt object when it converts.
  const fmt = { ...(wav.fmt as { audioFormat: number; numChannels: number; sampleRate: number }) };
  if (fmt.numChannels < 1 || fmt.numChannels > 2) {
    throw new Error(
      `the WAV has ${fmt.numChannels} channels: use mono (customer) or stereo (customer, agent)`,
    );
  }
  if (fmt.audioFormat === 7) wav.fromMuLaw("16");
  else if (fmt.audioFormat === 6) wav.fromALaw("16");
  if (wav.bitDepth !== "16") wav.toBitDepth("16");
  // Sinc with its default low-pass filter: the best quality wavefile offers, and files are short.
  if (fmt.sampleRate !== RATE) wav.toSampleRate(RATE, { method: "sinc" });
  const samples = wav.getSamples(false, Int16Array) as unknown as Int16Array | Int16Array[];
  return fmt.numChannels === 1 ? [samples as Int16Array] : (samples as Int16Array[]);
}

/**
 * A synthetic two-party conversation: the customer (440 Hz) talks for 1.5 s, then the agent (620 Hz)
 * for 1.5 s, with 0.3 s pauses, repeated; a mono call gets only the customer's turns. The pauses let a
 * voice-activity detector end utterances, so transcripts come back while the call runs.
 */
export function toneConversation(seconds: number, channels: 1 | 2, amplitude = 8000): Int16Array[] {
  if (!(seconds > 0)) throw new RangeError(`tone length must be positive, got ${seconds}`);
  const length = Math.round(seconds * RATE);
  const turn = 1.5 * RATE;
  const pause = 0.3 * RATE;
  const cycle = 2 * (turn + pause);
  const out = Array.from({ length: channels }, () => new Int16Array(length));
  const frequencies = [440, 620];
  for (let i = 0; i < length; i++) {
    const inCycle = i % cycle;
    // Customer speaks in [0, turn), agent in [turn + pause, 2 turn + pause).
    const speaker = inCycle < turn ? 0 : inCycle >= turn + pause && inCycle < 2 * turn + pause ? 1 : -1;
    const channel = out[speaker];
    if (channel === undefined) continue;
    channel[i] = Math.round(
      amplitude * Math.sin((2 * Math.PI * (frequencies[speaker] as number) * i) / RATE),
    );
  }
  return out;
}

/** A frame source: the interleaved bytes of frame `index` (each `samples` per channel), or null at the end. */
export type FrameSource = (index: number, samples: number) => Uint8Array | null;

/**
 * Frames cut from PCM channels, encoded as PCMU or little-endian L16. With `totalSamples` the audio is
 * looped (or cut) to exactly that many samples per channel; without it, it plays once.
 */
export function pcmFrames(
  channels: readonly Int16Array[],
  format: AudioFormat,
  totalSamples?: number,
): FrameSource {
  const length = channels[0]?.length ?? 0;
  const total = totalSamples ?? length;
  const width = format === "PCMU" ? 1 : 2;
  return (index, samples) => {
    const start = index * samples;
    if (length === 0 || start >= total) return null;
    const n = Math.min(samples, total - start);
    const bytes = new Uint8Array(n * channels.length * width);
    const view = new DataView(bytes.buffer);
    for (let i = 0, b = 0; i < n; i++) {
      const at = (start + i) % length;
      for (const channel of channels) {
        const s = channel[at] as number;
        if (format === "PCMU") bytes[b++] = encodeMulawSample(s);
        else {
          view.setInt16(b, s, true);
          b += 2;
        }
      }
    }
    return bytes;
  };
}

/**
 * Frames interleaved from µ-law channels that are already encoded, each looped on its own (so clips of
 * different lengths drift against each other, like two speakers), without end unless `totalSamples`.
 */
export function loopedMulawFrames(
  channels: readonly Uint8Array[],
  totalSamples = Number.POSITIVE_INFINITY,
): FrameSource {
  if (channels.length === 0 || channels.some((c) => c.length === 0))
    throw new Error("a µ-law channel is empty");
  return (index, samples) => {
    const start = index * samples;
    if (start >= totalSamples) return null;
    const n = Math.min(samples, totalSamples - start);
    const bytes = new Uint8Array(n * channels.length);
    for (let i = 0, b = 0; i < n; i++) {
      for (const channel of channels) bytes[b++] = channel[(start + i) % channel.length] as number;
    }
    return bytes;
  };
}
