// The pure half of the load bench: its command line, the worker's per-call summary lines and what they
// add up to, the Markdown table and the keys merged into bench/results/latest.json.

import { parseArgs } from "node:util";
import {
  bucketCounts,
  type Distribution,
  distribution,
  histogramPercentile,
  mergeHistograms,
  percentile,
} from "../simulator/stats";

export const VARIANTS = ["floor", "gateway", "no-forwarding", "no-lid"] as const;
export type Variant = (typeof VARIANTS)[number];

export const VARIANT_LABELS: Record<Variant, string> = {
  floor: "floor (accept, open/ping/close, decode)",
  gateway: "langhook, forwarding on",
  "no-forwarding": "langhook, TRANSCRIPTION_URL unset",
  "no-lid": "langhook, ACOUSTIC_DETECTOR=off",
};

export const LOAD_USAGE = `usage: npm run bench:load -- [--levels 10,20,50] [--seconds 20] [options]

  --levels N,N,...     concurrent calls per level (default 10,20,50)
  --seconds S          measured steady state per level, after the warm-up (default 20)
  --warmup-s S         real-time audio before the measurement starts (default 3)
  --ramp-ms MS         the calls' starts are spread over this long (default 1000)
  --variants a,b,...   ${VARIANTS.join(", ")} (default: all; no-lid is skipped, reported null,
                       when the worker does not read ACOUSTIC_DETECTOR)
  --ping-ms MS         ping interval per call (default 1000, for enough pong samples)
  --via binding|fetch  how the worker reaches the transcription server: binding (default) is a
                       TRANSCRIPTION_SERVICE binding to it as an external server, a native subrequest as in
                       production; fetch is the global fetch, which Miniflare routes through a JavaScript
                       outbound worker of its own (about 0.3 ms of workerd CPU per request that a deployed
                       Worker does not pay)
  --runs N             rounds per level (default 1): each round runs every variant once, back to back, so
                       the floor is measured beside each gateway run; a level then reports the median CPU,
                       the median of the per-round ratios with their range, and pong percentiles over the
                       pongs of every round (on a shared machine one round's floor moves by a third)
  --ref GIT-REF        measure the worker as committed at this ref (exported with git archive into
                       .tmp/) instead of the working tree, e.g. to compare with a baseline
  --storage shm|disk   where the objects' SQLite files live: shm (default, /dev/shm, a RAM disk) measures the
                       code; disk puts them on the machine's disk, whose write stalls (fsync on a shared
                       virtual disk) then show in latencies and can stall a call that writes per frame
  --no-latest          do not update bench/results/latest.json

BENCH_WORKER_VARS='{"NAME":"value",...}' gives the gateway extra variables (recorded in the results).`;

export interface LoadOptions {
  levels: number[];
  seconds: number;
  warmupSeconds: number;
  rampMs: number;
  variants: Variant[];
  pingMs: number;
  runs: number;
  via: "binding" | "fetch";
  updateLatest: boolean;
  /** A git ref to bundle instead of the working tree; null: the working tree. */
  ref: string | null;
  storage: "shm" | "disk";
}

export function parseLoadArgs(
  argv: string[],
): { ok: true; options: LoadOptions } | { ok: false; error: string } {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        levels: { type: "string", default: "10,20,50" },
        seconds: { type: "string", default: "20" },
        "warmup-s": { type: "string", default: "3" },
        "ramp-ms": { type: "string", default: "1000" },
        variants: { type: "string", default: VARIANTS.join(",") },
        "ping-ms": { type: "string", default: "1000" },
        runs: { type: "string", default: "1" },
        via: { type: "string", default: "binding" },
        "no-latest": { type: "boolean", default: false },
        ref: { type: "string" },
        storage: { type: "string", default: "shm" },
      },
    });
    const num = (name: string, text: string, min: number, max: number) => {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
        throw new Error(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
      }
      return n;
    };
    const levels = values.levels.split(",").map((s) => num("levels", s, 1, 1000));
    if (levels.some((n) => !Number.isInteger(n))) throw new Error("--levels are whole numbers of calls");
    const variants = values.variants.split(",").map((s) => s.trim());
    for (const v of variants) {
      if (!(VARIANTS as readonly string[]).includes(v)) {
        throw new Error(`unknown variant ${JSON.stringify(v)}: use ${VARIANTS.join(", ")}`);
      }
    }
    if (values.via !== "binding" && values.via !== "fetch") {
      throw new Error(`--via is binding or fetch, got ${JSON.stringify(values.via)}`);
    }
    if (values.storage !== "shm" && values.storage !== "disk") {
      throw new Error(`--storage is shm or disk, got ${JSON.stringify(values.storage)}`);
    }
    return {
      ok: true,
      options: {
        levels,
        seconds: num("seconds", values.seconds, 1, 3600),
        warmupSeconds: num("warmup-s", values["warmup-s"], 0, 600),
        rampMs: num("ramp-ms", values["ramp-ms"], 0, 600_000),
        variants: variants as Variant[],
        pingMs: num("ping-ms", values["ping-ms"], 100, 60_000),
        runs: num("runs", values.runs, 1, 50),
        via: values.via,
        updateLatest: !values["no-latest"],
        ref: values.ref ?? null,
        storage: values.storage,
      },
    };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** BENCH_WORKER_VARS: a JSON object of string values given to the gateway on top of its bindings. */
export function parseWorkerVars(text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === "") return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`BENCH_WORKER_VARS is not JSON: ${text.slice(0, 80)}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error('BENCH_WORKER_VARS must be a JSON object, e.g. {"BATCH_MS":"200"}');
  }
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== "string")
      throw new Error(`BENCH_WORKER_VARS.${key} must be a string, as worker vars are`);
  }
  return raw as Record<string, string>;
}

/** The worker's end-of-call log line (`"event":"call-summary"`), the fields the bench reads. */
export interface CallSummaryLine {
  durationMs: number;
  channels: number;
  rowsWritten: number;
  audioSeconds: number;
  ackLatencyMs: {
    count: number;
    p50: number | null;
    p99: number | null;
    max: number | null;
    histogram: { bounds: number[]; counts: number[] };
  } | null;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isNumberArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((n) => typeof n === "number");

/**
 * A call-summary line from one logged message, or null for any other message. A summary with a field
 * missing or mistyped is an error: the bench reports it rather than averaging nonsense.
 */
export function parseCallSummary(message: string): CallSummaryLine | null {
  const text = message.trim();
  if (!text.startsWith("{") || !text.includes('"call-summary"')) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(raw) || raw.event !== "call-summary") return null;
  for (const field of ["durationMs", "channels", "rowsWritten", "audioSeconds"] as const) {
    if (typeof raw[field] !== "number")
      throw new Error(`call-summary: ${field} is not a number in ${text.slice(0, 200)}`);
  }
  let ack: CallSummaryLine["ackLatencyMs"] = null;
  if (raw.ackLatencyMs !== undefined && raw.ackLatencyMs !== null) {
    const a = raw.ackLatencyMs;
    if (!isObject(a) || typeof a.count !== "number" || !isObject(a.histogram)) {
      throw new Error(`call-summary: ackLatencyMs needs count and histogram in ${text.slice(0, 200)}`);
    }
    const { bounds, counts } = a.histogram;
    if (!isNumberArray(bounds) || !isNumberArray(counts)) {
      throw new Error("call-summary: ackLatencyMs.histogram needs number arrays bounds and counts");
    }
    const orNull = (v: unknown) => (typeof v === "number" ? v : null);
    ack = {
      count: a.count,
      p50: orNull(a.p50),
      p99: orNull(a.p99),
      max: orNull(a.max),
      histogram: { bounds, counts },
    };
  }
  return {
    durationMs: raw.durationMs as number,
    channels: raw.channels as number,
    rowsWritten: raw.rowsWritten as number,
    audioSeconds: raw.audioSeconds as number,
    ackLatencyMs: ack,
  };
}

export interface SummaryAggregate {
  calls: number;
  rowsWrittenPerCallSecond: number | null;
  ackLatencyMs: Distribution;
}

/** Adds up call summaries: rows per call-second over the calls' whole lives, latency from merged histograms. */
export function aggregateSummaries(lines: readonly CallSummaryLine[]): SummaryAggregate {
  const callMs = lines.reduce((n, l) => n + l.durationMs, 0);
  const rows = lines.reduce((n, l) => n + l.rowsWritten, 0);
  const withAck = lines.flatMap((l) =>
    l.ackLatencyMs === null || l.ackLatencyMs.count === 0 ? [] : [l.ackLatencyMs],
  );
  const merged = mergeHistograms(
    withAck.map((a) => ({ bounds: a.histogram.bounds, buckets: bucketCounts(a.histogram, a.count) })),
  );
  const maxes = withAck.flatMap((a) => (a.max === null ? [] : [a.max]));
  const max = maxes.length === 0 ? null : Math.max(...maxes);
  // Like the worker's own summary: the bucket's upper bound, never more than the largest sample seen.
  const at = (p: number) => {
    if (merged === null) return null;
    const v = histogramPercentile(merged.bounds, merged.buckets, p, max ?? Number.POSITIVE_INFINITY);
    return v === null || max === null ? v : Math.min(v, max);
  };
  return {
    calls: lines.length,
    rowsWrittenPerCallSecond: lines.length === 0 || callMs === 0 ? null : rows / (callMs / 1000),
    ackLatencyMs: {
      count: withAck.reduce((n, a) => n + a.count, 0),
      p50: at(50),
      p99: at(99),
      max,
    },
  };
}

/** One variant at one level, as written to the results file. */
export interface LevelResult {
  variant: Variant;
  calls: number;
  callsCompleted: number;
  /** Over the steady state; null when the variant was skipped (e.g. no-lid without the switch). */
  cpuMsPerAudioSecond: number | null;
  /**
   * Over the calls' whole lives (open, steady state, close, the drain of a backlog): closer to the truth
   * when the worker fell behind during the window, where the steady-state one undercounts; still a lower
   * bound when calls did not complete (what was left undone is not counted).
   */
  cpuMsPerAudioSecondWholeRun?: number | null;
  ratioToFloor: number | null;
  rowsWrittenPerCallSecond: number | null;
  ackLatencyMs: Distribution | null;
  pongMs: Distribution | null;
  openedMs: Distribution | null;
  /** 20 ms frames of audio sent but not received by the transcription server; null without forwarding. */
  framesLost: number | null;
  skipped?: string;
  /** With --runs over 1: each round's CPU figure and ratio to that round's floor, in round order. */
  rounds?: { cpuMsPerAudioSecond: (number | null)[]; ratioToFloor: (number | null)[] };
}

/** One variant at one level in one round, before the rounds are combined. */
export interface RoundResult extends LevelResult {
  round: number;
  /** Every pong's round trip, so a level's percentiles come from all rounds' pongs. */
  pongSamples: number[];
}

const median = (values: readonly (number | null | undefined)[]): number | null =>
  percentile(
    values.filter((v): v is number => typeof v === "number"),
    50,
  );

/**
 * Combines the rounds of each variant and level: medians of the CPU figures, of rows written and of the
 * latency percentiles; the ratio to the floor as the median of each round's ratio to the floor measured
 * beside it; pong percentiles over all rounds' pongs; frames lost summed; the worst round's completed
 * calls. Results keep the order of first appearance.
 */
export function combineRounds(rounds: readonly RoundResult[]): LevelResult[] {
  const floorOf = (r: RoundResult) =>
    rounds.find((f) => f.variant === "floor" && f.calls === r.calls && f.round === r.round)
      ?.cpuMsPerAudioSecond;
  const groups = new Map<string, RoundResult[]>();
  for (const r of rounds) {
    const key = `${r.calls} ${r.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const ran = group.filter((r) => !r.skipped);
    const first = group[0] as RoundResult;
    if (ran.length === 0) {
      const { round: _, pongSamples: __, ...rest } = first;
      return rest;
    }
    const ratios = group.map((r) => {
      const floor = floorOf(r);
      return r.cpuMsPerAudioSecond !== null && floor ? r.cpuMsPerAudioSecond / floor : null;
    });
    const latency = (pick: (r: RoundResult) => Distribution | null): Distribution | null => {
      const have = ran.flatMap((r) => {
        const d = pick(r);
        return d === null || d.count === 0 ? [] : [d];
      });
      if (have.length === 0) return null;
      const maxes = have.flatMap((d) => (d.max === null ? [] : [d.max]));
      return {
        count: have.reduce((n, d) => n + d.count, 0),
        p50: median(have.map((d) => d.p50)),
        p99: median(have.map((d) => d.p99)),
        max: maxes.length === 0 ? null : Math.max(...maxes),
      };
    };
    const lost = ran.map((r) => r.framesLost);
    return {
      variant: first.variant,
      calls: first.calls,
      callsCompleted: Math.min(...ran.map((r) => r.callsCompleted)),
      cpuMsPerAudioSecond: median(ran.map((r) => r.cpuMsPerAudioSecond)),
      cpuMsPerAudioSecondWholeRun: median(ran.map((r) => r.cpuMsPerAudioSecondWholeRun)),
      ratioToFloor: median(ratios),
      rowsWrittenPerCallSecond: median(ran.map((r) => r.rowsWrittenPerCallSecond)),
      ackLatencyMs: latency((r) => r.ackLatencyMs),
      pongMs: distribution(ran.flatMap((r) => r.pongSamples)),
      openedMs: latency((r) => r.openedMs),
      framesLost: lost.some((n) => n === null)
        ? null
        : lost.reduce((a, b) => (a as number) + (b as number), 0),
      ...(group.length > 1
        ? { rounds: { cpuMsPerAudioSecond: group.map((r) => r.cpuMsPerAudioSecond), ratioToFloor: ratios } }
        : {}),
    };
  });
}

const fmt = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? "–" : v.toFixed(digits);

/**
 * A worker whose pongs took over a second was not keeping up: what it was sent in the window exceeds what
 * it processed, so its CPU per audio second undercounts (the results file also has the whole-run figure).
 */
export const BEHIND_PONG_MS = 1000;
const behind = (r: LevelResult) => (r.pongMs?.p99 ?? 0) > BEHIND_PONG_MS;

/** The median ratio, with the range over the rounds when there were several ("2.6 (2.4–2.9)"). */
function ratioCell(r: LevelResult): string {
  const all = (r.rounds?.ratioToFloor ?? []).filter((v): v is number => v !== null);
  if (all.length < 2 || fmt(Math.min(...all)) === fmt(Math.max(...all))) return fmt(r.ratioToFloor);
  return `${fmt(r.ratioToFloor)} (${fmt(Math.min(...all))}–${fmt(Math.max(...all))})`;
}

/** The Markdown table the README carries; "(behind)" marks a worker that was not keeping up. */
export function markdownTable(results: readonly LevelResult[]): string {
  const rows = [
    "| calls | what ran | CPU ms per channel-audio-second | × floor | whole run | rows written per call-second | frame→ack p50 / p99 ms | pong p99 ms | frames lost | calls completed |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    rows.push(
      `| ${r.calls} | ${VARIANT_LABELS[r.variant]} | ${fmt(r.cpuMsPerAudioSecond)}${behind(r) ? " (behind)" : ""} | ${ratioCell(r)} | ${fmt(r.cpuMsPerAudioSecondWholeRun)} | ${fmt(r.rowsWrittenPerCallSecond)} | ${
        r.ackLatencyMs === null || r.ackLatencyMs.count === 0
          ? "–"
          : `${fmt(r.ackLatencyMs.p50, 0)} / ${fmt(r.ackLatencyMs.p99, 0)}`
      } | ${fmt(r.pongMs?.p99)} | ${r.framesLost ?? "–"} | ${r.skipped ? `skipped: ${r.skipped}` : `${r.callsCompleted}/${r.calls}`} |`,
    );
  }
  return rows.join("\n");
}

/**
 * The keys this bench owns in bench/results/latest.json, merged over what is there (other benches write
 * their own keys). A key whose level or variant did not run is left as it was.
 */
export function latestKeys(results: readonly LevelResult[]): Record<string, number | null> {
  const find = (variant: Variant, calls: number) =>
    results.find((r) => r.variant === variant && r.calls === calls);
  const out: Record<string, number | null> = {};
  const gateway20 = find("gateway", 20);
  if (gateway20) {
    out.cpu_ms_per_audio_second_with_lid = gateway20.cpuMsPerAudioSecond;
    out.rows_written_per_call_second = gateway20.rowsWrittenPerCallSecond;
  }
  const noLid20 = find("no-lid", 20);
  if (noLid20) out.cpu_ms_per_audio_second_without_lid = noLid20.cpuMsPerAudioSecond;
  const floor20 = find("floor", 20);
  if (floor20) out.floor_cpu_ms_per_audio_second = floor20.cpuMsPerAudioSecond;
  const gateway50 = find("gateway", 50);
  if (gateway50) out.p99_forward_latency_ms_at_50_calls = gateway50.ackLatencyMs?.p99 ?? null;
  const forwarded = results.filter((r) => (r.variant === "gateway" || r.variant === "no-lid") && !r.skipped);
  if (forwarded.length > 0) {
    out.frames_lost = forwarded.some((r) => r.framesLost === null)
      ? null
      : forwarded.reduce((n, r) => n + (r.framesLost as number), 0);
  }
  return out;
}
