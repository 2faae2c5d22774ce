// AudioHook durations are seconds only (`PT12.34S`); positions are kept as sample counts at 8 kHz.

export const DURATION_PATTERN = /^PT(\d*\.)?\d+S$/;

/**
 * The longest duration, and so the furthest position, a call may state or reach: 24 h of audio. Without
 * a bound `PT` + 400 nines + `S` reads as Infinity and `PT3000000000000000S` as a position no sample
 * count can encode, and either would poison every later position.
 */
export const MAX_DURATION_SECONDS = 24 * 60 * 60;

/** Seconds in an AudioHook duration, or undefined when it is not one or is over MAX_DURATION_SECONDS. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  const seconds = Number(text.slice(2, -1));
  return Number.isFinite(seconds) && seconds <= MAX_DURATION_SECONDS ? seconds : undefined;
}

/** The furthest position of a call's timeline, in samples at `rate`. */
export function maxPositionSamples(rate: number): number {
  return MAX_DURATION_SECONDS * rate;
}

/**
 * Formats seconds as an AudioHook duration with at most millisecond precision. Whatever the input (an
 * engine's offset may be anything), the result is a duration parseDuration takes: clamped to
 * 0..MAX_DURATION_SECONDS, NaN as 0; never an exponent (`PT1e+21S`) or `PTInfinityS`.
 */
export function formatDuration(seconds: number): string {
  const bounded = Number.isNaN(seconds) ? 0 : Math.min(MAX_DURATION_SECONDS, Math.max(0, seconds));
  const ms = Math.round(bounded * 1000);
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
