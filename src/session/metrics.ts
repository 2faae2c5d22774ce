// Per-call metrics as Workers Analytics Engine data points: one "call" point and one "ack-latency" point
// when a call ends, one "refusal" point per refused upgrade. Pure apart from calling the binding it is given,
// and optional: without a CALL_METRICS dataset bound nothing is written and nothing fails.
//
// Analytics Engine columns are positional (blob1..blob20, double1..double20), so the layouts below are the one
// place that says which column holds what. docs/operations.md has the same table and its SQL queries use these
// columns; test/unit/session/metrics.test.ts checks that the docs' table and aliases match these constants.

import { LATENCY_BOUNDS_MS } from "../forward/latency";
import type { Logger } from "../log";
import type { CallSummary } from "./summary";

/** The binding name: `[[analytics_engine_datasets]] binding = "CALL_METRICS"` in wrangler.toml. */
export const METRICS_BINDING = "CALL_METRICS";

/** blob1 of every point: which layout the row has. Every query filters on it. */
export type PointKind = "call" | "ack-latency" | "refusal";

/** Column names, in column order: CALL_BLOBS[0] is blob1. */
export const CALL_BLOBS = [
  "kind",
  "endpoint",
  "organization",
  "end_reason",
  "end_class",
  "language_external",
  "source_external",
  "language_internal",
  "source_internal",
  "session",
  "conversation",
  "continues",
] as const;

export const CALL_DOUBLES = [
  "duration_s",
  "channels",
  "audio_s",
  "acknowledged_s",
  "transcripts",
  "requests",
  "retries",
  "outbox_peak_s",
  "rows_written",
  "ack_count",
  "ack_p50_ms",
  "ack_p99_ms",
  "ack_max_ms",
  "confident_after_external_s",
  "confident_after_internal_s",
] as const;

export const LATENCY_BLOBS = ["kind", "endpoint", "organization", "session"] as const;

/**
 * Cumulative counts: `le_<bound>_ms` is how many of the call's frames were acknowledged within that bound, the
 * last column all of them. Summed over calls they give the global distribution (to bucket resolution), which
 * per-call percentiles cannot: an average or quantile of per-call p99s is not the p99 of all frames.
 */
export const LATENCY_DOUBLES = [...LATENCY_BOUNDS_MS.map((b) => `le_${b}_ms`), "ack_count"] as const;

export const REFUSAL_BLOBS = ["kind", "endpoint", "cause"] as const;
export const REFUSAL_DOUBLES = ["status"] as const;

export const LAYOUTS: Record<PointKind, { blobs: readonly string[]; doubles: readonly string[] }> = {
  call: { blobs: CALL_BLOBS, doubles: CALL_DOUBLES },
  "ack-latency": { blobs: LATENCY_BLOBS, doubles: LATENCY_DOUBLES },
  refusal: { blobs: REFUSAL_BLOBS, doubles: REFUSAL_DOUBLES },
};

/** The SQL column of a named field of a layout: column("call", "end_reason") is "blob4". */
export function column(kind: PointKind, name: string): string {
  const layout = LAYOUTS[kind];
  const blob = layout.blobs.indexOf(name);
  if (blob >= 0) return `blob${blob + 1}`;
  const double = layout.doubles.indexOf(name);
  if (double >= 0) return `double${double + 1}`;
  throw new Error(`no column ${name} in the ${kind} layout`);
}

/** Analytics Engine's limits per data point. */
export const LIMITS = { blobs: 20, doubles: 20, indexBytes: 96, blobBytes: 16 * 1024 } as const;
/**
 * Longest blob, in UTF-16 code units. A code unit is at most 3 bytes of UTF-8, so 20 full blobs stay under the
 * 16 KB total; the long ones in practice are end reasons carrying a client's disconnect text.
 */
export const MAX_BLOB_CHARS = 192;
/** The index (Analytics Engine's sampling key) when the call named no organization. */
export const NO_ORGANIZATION = "none";
/** The index of refusals: their own sampling key, so a flood of them is sampled without thinning call rows. */
export const REFUSAL_INDEX = "refused";
/** A double that was not measured (no latency sample, a language never confident). */
export const NOT_MEASURED = -1;

function blob(value: string | null | undefined): string {
  if (!value) return "";
  if (value.length <= MAX_BLOB_CHARS) return value;
  const cut = value.slice(0, MAX_BLOB_CHARS);
  // Do not end on half a surrogate pair.
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

function index(value: string | null | undefined): string {
  const text = value || NO_ORGANIZATION;
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= LIMITS.indexBytes) return text;
  let cut = text.slice(0, LIMITS.indexBytes);
  while (encoder.encode(cut).length > LIMITS.indexBytes) cut = cut.slice(0, -1);
  return cut;
}

/** Doubles must be finite; null (not measured) is NOT_MEASURED. */
function double(value: number | null | undefined): number {
  if (value === null || value === undefined) return NOT_MEASURED;
  return Number.isFinite(value) ? value : 0;
}

/** Values in layout order, so a layout and its values cannot drift apart. */
function ordered<K extends string>(names: readonly K[], values: Record<K, string>): string[];
function ordered<K extends string>(names: readonly K[], values: Record<K, number>): number[];
function ordered<K extends string>(names: readonly K[], values: Record<K, string | number>) {
  return names.map((name) => values[name]);
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** The call's row: who, how it ended, languages, volumes, and its own latency percentiles. */
export function callDataPoint(summary: CallSummary): AnalyticsEngineDataPoint {
  const external = summary.languages?.external;
  const internal = summary.languages?.internal;
  const ack = summary.ackLatencyMs;
  const blobs = ordered(CALL_BLOBS, {
    kind: "call",
    endpoint: blob(summary.endpoint ?? "unknown"),
    organization: blob(summary.organizationId),
    end_reason: blob(summary.endReason),
    end_class: blob(summary.endReason.split(":", 1)[0]),
    language_external: blob(external?.language ?? "none"),
    source_external: blob(external?.source ?? "none"),
    language_internal: blob(internal?.language ?? "none"),
    source_internal: blob(internal?.source ?? "none"),
    session: blob(summary.sessionId),
    conversation: blob(summary.conversationId),
    continues: blob(summary.continues.join(",")),
  });
  const doubles = ordered(CALL_DOUBLES, {
    duration_s: double(round3(summary.durationMs / 1000)),
    channels: double(summary.channels),
    audio_s: double(summary.audioSeconds),
    acknowledged_s: double(summary.acknowledgedSeconds),
    transcripts: double(summary.transcripts),
    requests: double(summary.requests),
    retries: double(summary.retries),
    outbox_peak_s: double(summary.outboxPeakSeconds),
    rows_written: double(summary.rowsWritten),
    ack_count: double(ack?.count ?? 0),
    ack_p50_ms: double(ack?.p50),
    ack_p99_ms: double(ack?.p99),
    ack_max_ms: double(ack?.max),
    confident_after_external_s: double(external?.confidentAfterSeconds),
    confident_after_internal_s: double(internal?.confidentAfterSeconds),
  });
  return { blobs, doubles, indexes: [index(summary.organizationId)] };
}

/**
 * The call's frame-to-acknowledgement histogram as cumulative counts (LATENCY_DOUBLES); null when nothing was
 * acknowledged. Its bucket bounds must be LATENCY_BOUNDS_MS (the forwarder's histogram): other bounds are
 * refused rather than written into columns that mean something else.
 */
export function latencyDataPoint(summary: CallSummary): AnalyticsEngineDataPoint | null {
  const ack = summary.ackLatencyMs;
  if (!ack || ack.count === 0) return null;
  const { bounds, counts } = ack.histogram;
  if (bounds.length !== LATENCY_BOUNDS_MS.length || bounds.some((b, i) => b !== LATENCY_BOUNDS_MS[i]))
    return null;
  const cumulative: number[] = [];
  let seen = 0;
  for (let i = 0; i < bounds.length; i++) {
    seen += counts[i] ?? 0;
    cumulative.push(seen);
  }
  return {
    blobs: ordered(LATENCY_BLOBS, {
      kind: "ack-latency",
      endpoint: blob(summary.endpoint ?? "unknown"),
      organization: blob(summary.organizationId),
      session: blob(summary.sessionId),
    }),
    doubles: [...cumulative, ack.count].map(double),
    indexes: [index(summary.organizationId)],
  };
}

/** A refused upgrade: its cause (the `code` of the upgrade-refused log line), endpoint and HTTP status. */
export function refusalDataPoint(cause: string, endpoint: string, status: number): AnalyticsEngineDataPoint {
  return {
    blobs: ordered(REFUSAL_BLOBS, { kind: "refusal", endpoint: blob(endpoint), cause: blob(cause) }),
    doubles: ordered(REFUSAL_DOUBLES, { status: double(status) }),
    indexes: [REFUSAL_INDEX],
  };
}

/** The CALL_METRICS binding of an env, whatever wrangler.toml declares (absent is undefined). */
export function metricsBinding(env: object): unknown {
  return (env as Record<string, unknown>)[METRICS_BINDING];
}

function isDataset(
  binding: unknown,
): binding is { writeDataPoint(point: AnalyticsEngineDataPoint): unknown } {
  return (
    typeof binding === "object" &&
    binding !== null &&
    typeof (binding as { writeDataPoint?: unknown }).writeDataPoint === "function"
  );
}

/**
 * Writes one point when `binding` is a dataset; otherwise does nothing. Never throws: metrics are not worth a
 * call. A failure (a throw, or a rejected promise from a binding that is an RPC stub) is one warning line.
 * Returns whether the point was handed to the binding.
 */
export function writeMetrics(
  binding: unknown,
  point: AnalyticsEngineDataPoint | null,
  log?: Logger,
): boolean {
  if (!point || !isDataset(binding)) return false;
  const warn = (err: unknown) =>
    log?.log("warn", "metrics-write-failed", {
      kind: point.blobs?.[0] ?? null,
      error: String(err instanceof Error ? err.message : err).slice(0, 200),
    });
  try {
    const result = binding.writeDataPoint(point);
    if (result && typeof (result as PromiseLike<unknown>).then === "function") {
      (result as PromiseLike<unknown>).then(undefined, warn);
    }
    return true;
  } catch (err) {
    warn(err);
    return false;
  }
}

/** Both points of an ended call (the latency one only when something was acknowledged). */
export function writeCallMetrics(binding: unknown, summary: CallSummary, log?: Logger): number {
  let written = 0;
  if (writeMetrics(binding, callDataPoint(summary), log)) written++;
  if (writeMetrics(binding, latencyDataPoint(summary), log)) written++;
  return written;
}
