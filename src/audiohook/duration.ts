// AudioHook durations are seconds only (`PT12.34S`); positions are kept as sample counts at 8 kHz.

export const DURATION_PATTERN = /^PT(\d*\.)?\d+S$/;

/** Seconds in an AudioHook duration, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  return Number(text.slice(2, -1));
}

/** Formats seconds as an AudioHook duration with at most millisecond precision. */
export function formatDuration(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const whole = Math.floor(ms / 1000);
  const frac = ms % 1000;
  return frac === 0 ? `PT${whole}S` : `PT${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}S`;
}

export function samplesToDuration(samples: number, rate: number): string {
  return formatDuration(samples / rate);
}

export function durationToSamples(text: string, rate: number): number | undefined {
  const seconds = parseDuration(text);
  return seconds === undefined ? undefined : Math.round(seconds * rate);
}
