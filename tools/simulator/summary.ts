// What a run of simulated calls adds up to: the live progress line and the summary at the end. Pure.

import type { CallPhase, CallResult } from "./call";
import { type Distribution, distribution } from "./stats";

export interface RunSummary {
  calls: number;
  ok: number;
  failed: number;
  /** Failure reasons with how many calls had each. */
  failures: Record<string, number>;
  openedMs: Distribution;
  pongMs: Distribution;
  pingsUnanswered: number;
  transcripts: number;
  finalTranscripts: number;
  languages: string[];
  protocolErrors: number;
  /** The distinct protocol errors (first 20), with how often each was seen. */
  protocolErrorKinds: Record<string, number>;
  audioSeconds: number;
}

export function summarize(results: readonly CallResult[], channels: number): RunSummary {
  const failures: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  let protocolErrors = 0;
  for (const r of results) {
    if (r.failure !== null) failures[r.failure] = (failures[r.failure] ?? 0) + 1;
    for (const e of r.protocolErrors) {
      protocolErrors += 1;
      if (e in kinds || Object.keys(kinds).length < 20) kinds[e] = (kinds[e] ?? 0) + 1;
    }
  }
  const ok = results.filter((r) => r.ok).length;
  return {
    calls: results.length,
    ok,
    failed: results.length - ok,
    failures,
    openedMs: distribution(results.flatMap((r) => (r.openedMs === null ? [] : [r.openedMs]))),
    pongMs: distribution(results.flatMap((r) => r.pongMs)),
    pingsUnanswered: results.reduce((n, r) => n + r.pingsUnanswered, 0),
    transcripts: results.reduce((n, r) => n + r.transcripts, 0),
    finalTranscripts: results.reduce((n, r) => n + r.finalTranscripts, 0),
    languages: [...new Set(results.flatMap((r) => r.languages))].sort(),
    protocolErrors,
    protocolErrorKinds: kinds,
    audioSeconds: results.reduce((n, r) => n + (r.samplesSent * channels) / 8000, 0),
  };
}

const ms = (v: number | null) => (v === null ? "-" : `${v.toFixed(1)} ms`);

export function formatSummary(s: RunSummary): string[] {
  const lines = [
    `calls: ${s.calls} (${s.ok} ok, ${s.failed} failed)`,
    `opened latency: p50 ${ms(s.openedMs.p50)}, p99 ${ms(s.openedMs.p99)} (${s.openedMs.count} calls)`,
    `pong latency: p50 ${ms(s.pongMs.p50)}, p99 ${ms(s.pongMs.p99)}, max ${ms(s.pongMs.max)} (${s.pongMs.count} pongs, ${s.pingsUnanswered} pings unanswered)`,
    `transcripts: ${s.transcripts} (${s.finalTranscripts} final)`,
    `language tags seen: ${s.languages.length === 0 ? "none" : s.languages.join(", ")}`,
    `channel-audio sent: ${s.audioSeconds.toFixed(1)} s`,
    `protocol errors: ${s.protocolErrors}`,
  ];
  for (const [kind, n] of Object.entries(s.protocolErrorKinds)) lines.push(`  ${n}× ${kind}`);
  for (const [reason, n] of Object.entries(s.failures)) lines.push(`failed: ${n}× ${reason}`);
  return lines;
}

export interface LiveCall {
  phase: CallPhase;
  samplesSent: number;
  transcripts: number;
  protocolErrors: readonly string[];
  pongMs: readonly number[];
}

/** One line on how the calls are doing, e.g. for a status line that rewrites itself. */
export function progressLine(calls: readonly LiveCall[], elapsedMs: number): string {
  const count = (phase: CallPhase) => calls.filter((c) => c.phase === phase).length;
  const starting = count("connecting") + count("opening");
  const audio = calls.reduce((n, c) => n + c.samplesSent, 0) / 8000;
  const pongs = distribution(calls.flatMap((c) => c.pongMs));
  const errors = calls.reduce((n, c) => n + c.protocolErrors.length, 0);
  return [
    `${(elapsedMs / 1000).toFixed(0)} s`,
    `${count("streaming")} streaming`,
    ...(starting > 0 ? [`${starting} starting`] : []),
    ...(count("closing") > 0 ? [`${count("closing")} closing`] : []),
    `${count("done")} done`,
    `${count("failed")} failed`,
    `${audio.toFixed(1)} s audio/channel`,
    `${calls.reduce((n, c) => n + c.transcripts, 0)} transcripts`,
    `pong p99 ${ms(pongs.p99)}`,
    `${errors} protocol errors`,
  ].join(" | ");
}
