// The negotiated media of a call and the arithmetic that depends on it.

export type AudioFormat = "PCMU" | "L16";
export type ChannelName = "external" | "internal";

export interface MediaFormat {
  readonly format: AudioFormat;
  /** In the order samples are interleaved: the first listed is the first sample of each pair. */
  readonly channels: readonly ChannelName[];
  readonly rate: number;
}

export const SUPPORTED_RATE = 8000;

export function bytesPerSample(format: AudioFormat): number {
  return format === "PCMU" ? 1 : 2;
}

/** Bytes of one sample instant across all channels. */
export function bytesPerInstant(media: MediaFormat): number {
  return bytesPerSample(media.format) * media.channels.length;
}
