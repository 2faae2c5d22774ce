import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LATENCY_BOUNDS_MS, LatencyHistogram } from "../../../src/forward/latency.js";
import { createLogger } from "../../../src/log.js";
import {
  CALL_BLOBS,
  CALL_DOUBLES,
  callDataPoint,
  column,
  LAYOUTS,
  LIMITS,
  latencyDataPoint,
  METRICS_BINDING,
  metricsBinding,
  NOT_MEASURED,
  type PointKind,
  REFUSAL_INDEX,
  refusalDataPoint,
  writeCallMetrics,
  writeMetrics,
} from "../../../src/session/metrics.js";
import type { CallSummary } from "../../../src/session/summary.js";

function histogram(samples: number[]) {
  const h = new LatencyHistogram();
  for (const ms of samples) h.add(ms);
  return h.summary();
}

function summary(overrides: Partial<CallSummary> = {}): CallSummary {
  return {
    sessionId: "e160e428-53e2-487c-977d-96989bf5c99d",
    conversationId: "090eaa2f-72fa-480a-83e0-8667ff89c0ec",
    organizationId: "d7934305-0972-4844-938e-9060eef73d05",
    endpoint: "transcription",
    durationMs: 61_234,
    channels: 2,
    audioSeconds: 120,
    acknowledgedSeconds: 118.5,
    languages: {
      external: {
        language: "es-ES",
        confidence: 0.93,
        provisional: false,
        source: "engine",
        confidentAfterSeconds: 4.2,
      },
      internal: {
        language: "en-US",
        confidence: 1,
        provisional: true,
        source: "configured",
        confidentAfterSeconds: null,
      },
    },
    transcripts: 17,
    requests: 9,
    retries: 1,
    outboxPeakSeconds: 3.5,
    rowsWritten: 80,
    endReason: "forwarding:ERR_UNAVAILABLE",
    ackLatencyMs: histogram([30, 40, 45, 120, 900]),
    continues: ["0c1f1d1e-2b5f-4f8e-9a55-4b7e1c1a2f00"],
    ...overrides,
  };
}

/** The value of a named field of a point, read through the layout (as the SQL queries read it). */
function field(point: AnalyticsEngineDataPoint, kind: PointKind, name: string): unknown {
  const col = column(kind, name);
  const n = Number(col.replace(/^\D+/, "")) - 1;
  return col.startsWith("blob") ? point.blobs?.[n] : point.doubles?.[n];
}

const utf8 = (s: unknown) => new TextEncoder().encode(String(s)).length;

function withinLimits(point: AnalyticsEngineDataPoint): void {
  expect(point.blobs?.length ?? 0).toBeLessThanOrEqual(LIMITS.blobs);
  expect(point.doubles?.length ?? 0).toBeLessThanOrEqual(LIMITS.doubles);
  expect(point.indexes).toHaveLength(1);
  expect(utf8(point.indexes?.[0])).toBeLessThanOrEqual(LIMITS.indexBytes);
  const blobBytes = (point.blobs ?? []).reduce((n, b) => n + utf8(b ?? ""), 0);
  expect(blobBytes).toBeLessThanOrEqual(LIMITS.blobBytes);
  for (const d of point.doubles ?? []) expect(Number.isFinite(d)).toBe(true);
}

describe("callDataPoint", () => {
  it("puts each field in its layout column", () => {
    const point = callDataPoint(summary());
    expect(point.blobs).toHaveLength(CALL_BLOBS.length);
    expect(point.doubles).toHaveLength(CALL_DOUBLES.length);
    expect(field(point, "call", "kind")).toBe("call");
    expect(field(point, "call", "endpoint")).toBe("transcription");
    expect(field(point, "call", "organization")).toBe("d7934305-0972-4844-938e-9060eef73d05");
    expect(field(point, "call", "end_reason")).toBe("forwarding:ERR_UNAVAILABLE");
    expect(field(point, "call", "end_class")).toBe("forwarding");
    expect(field(point, "call", "language_external")).toBe("es-ES");
    expect(field(point, "call", "source_external")).toBe("engine");
    expect(field(point, "call", "language_internal")).toBe("en-US");
    expect(field(point, "call", "source_internal")).toBe("configured");
    expect(field(point, "call", "session")).toBe("e160e428-53e2-487c-977d-96989bf5c99d");
    expect(field(point, "call", "conversation")).toBe("090eaa2f-72fa-480a-83e0-8667ff89c0ec");
    expect(field(point, "call", "continues")).toBe("0c1f1d1e-2b5f-4f8e-9a55-4b7e1c1a2f00");
    expect(field(point, "call", "duration_s")).toBe(61.234);
    expect(field(point, "call", "channels")).toBe(2);
    expect(field(point, "call", "audio_s")).toBe(120);
    expect(field(point, "call", "acknowledged_s")).toBe(118.5);
    expect(field(point, "call", "transcripts")).toBe(17);
    expect(field(point, "call", "requests")).toBe(9);
    expect(field(point, "call", "retries")).toBe(1);
    expect(field(point, "call", "outbox_peak_s")).toBe(3.5);
    expect(field(point, "call", "rows_written")).toBe(80);
    expect(field(point, "call", "ack_count")).toBe(5);
    expect(field(point, "call", "ack_p50_ms")).toBe(50);
    expect(field(point, "call", "ack_p99_ms")).toBe(900);
    expect(field(point, "call", "ack_max_ms")).toBe(900);
    expect(field(point, "call", "confident_after_external_s")).toBe(4.2);
    expect(field(point, "call", "confident_after_internal_s")).toBe(NOT_MEASURED);
    expect(point.indexes).toEqual(["d7934305-0972-4844-938e-9060eef73d05"]);
    withinLimits(point);
  });

  it("writes a call that never forwarded anything: no languages, no latency, no organization", () => {
    const point = callDataPoint(
      summary({
        languages: null,
        ackLatencyMs: null,
        organizationId: null,
        endpoint: null,
        conversationId: null,
        continues: [],
        endReason: "closed",
      }),
    );
    expect(field(point, "call", "endpoint")).toBe("unknown");
    expect(field(point, "call", "organization")).toBe("");
    expect(field(point, "call", "end_class")).toBe("closed");
    expect(field(point, "call", "language_external")).toBe("none");
    expect(field(point, "call", "source_internal")).toBe("none");
    expect(field(point, "call", "continues")).toBe("");
    expect(field(point, "call", "ack_count")).toBe(0);
    expect(field(point, "call", "ack_p50_ms")).toBe(NOT_MEASURED);
    expect(field(point, "call", "ack_p99_ms")).toBe(NOT_MEASURED);
    expect(field(point, "call", "confident_after_external_s")).toBe(NOT_MEASURED);
    expect(point.indexes).toEqual(["none"]);
    expect(latencyDataPoint(summary({ ackLatencyMs: null }))).toBeNull();
    expect(latencyDataPoint(summary({ ackLatencyMs: histogram([]) }))).toBeNull();
  });

  it("stays within Analytics Engine's limits whatever the strings", () => {
    const long = "ü😀".repeat(5000);
    const point = callDataPoint(
      summary({
        endReason: `disconnect:${long}`,
        organizationId: long,
        sessionId: long,
        conversationId: long,
        continues: Array.from({ length: 50 }, () => long.slice(0, 36)),
        languages: {
          external: {
            language: long,
            confidence: 0,
            provisional: true,
            source: long,
            confidentAfterSeconds: Number.NaN,
          },
        },
        durationMs: Number.POSITIVE_INFINITY,
      }),
    );
    withinLimits(point);
    // Cut on a whole character: no lone surrogate left at the end.
    for (const b of point.blobs ?? []) expect(String(b)).toBe(String(b).replace(/[\ud800-\udbff]$/, ""));
    withinLimits(refusalDataPoint(long, long, 401));
  });
});

describe("latencyDataPoint", () => {
  it("writes cumulative counts whose sum over calls gives the global percentile, unlike per-call p99s", () => {
    // Call A: 99 fast frames and one slow one. Call B: a few slow frames.
    const a = summary({ ackLatencyMs: histogram([...Array(99).fill(8), 1800]) });
    const b = summary({ ackLatencyMs: histogram([400, 450, 480]) });
    const pa = latencyDataPoint(a);
    const pb = latencyDataPoint(b);
    if (!pa || !pb) throw new Error("expected latency points");
    withinLimits(pa);
    expect(field(pa, "ack-latency", "kind")).toBe("ack-latency");
    expect(field(pa, "ack-latency", "le_10_ms")).toBe(99);
    expect(field(pa, "ack-latency", "le_2000_ms")).toBe(100);
    expect(field(pa, "ack-latency", "ack_count")).toBe(100);
    expect(field(pb, "ack-latency", "le_200_ms")).toBe(0);
    expect(field(pb, "ack-latency", "le_500_ms")).toBe(3);

    // What the documented SQL does: sum each column over calls, then the first bound reaching q of the total.
    const summed = (pa.doubles ?? []).map((v, i) => v + (pb.doubles?.[i] ?? 0));
    const total = summed[summed.length - 1] as number;
    const quantile = (q: number) => LATENCY_BOUNDS_MS.find((_, i) => (summed[i] as number) >= q * total);
    const all = histogram([...Array(99).fill(8), 1800, 400, 450, 480]);
    expect(quantile(0.5)).toBe(all.p50);
    expect(quantile(0.99)).toBe(500);
    // Per-call p99s are 10 ms (A's one slow frame is its top 1%) and 480 ms (B's max): their mean, 245 ms,
    // is no percentile of the frames at all.
    expect([a.ackLatencyMs?.p99, b.ackLatencyMs?.p99]).toEqual([10, 480]);
  });

  it("refuses a histogram with other bounds rather than mislabel its columns", () => {
    const ack = histogram([5, 6]);
    const other = { ...ack, histogram: { bounds: [1, 2, 3], counts: [1, 1, 0, 0] } };
    expect(latencyDataPoint(summary({ ackLatencyMs: other }))).toBeNull();
  });
});

describe("refusalDataPoint", () => {
  it("names the cause, endpoint and status under the refusals' own index", () => {
    const point = refusalDataPoint("replayed-nonce", "monitor", 401);
    expect(field(point, "refusal", "kind")).toBe("refusal");
    expect(field(point, "refusal", "endpoint")).toBe("monitor");
    expect(field(point, "refusal", "cause")).toBe("replayed-nonce");
    expect(field(point, "refusal", "status")).toBe(401);
    expect(point.indexes).toEqual([REFUSAL_INDEX]);
  });
});

describe("writeMetrics", () => {
  const point = refusalDataPoint("bad-id-header", "transcription", 400);

  function recordingLog() {
    const lines: Record<string, unknown>[] = [];
    return { lines, log: createLogger({}, "debug", (line) => lines.push(JSON.parse(line))) };
  }

  it("does nothing without a dataset: absent, null, or something else bound under the name", () => {
    for (const binding of [undefined, null, {}, "CALL_METRICS", 42, { writeDataPoint: "no" }]) {
      expect(writeMetrics(binding, point)).toBe(false);
    }
  });

  it("hands the point to the dataset", () => {
    const written: AnalyticsEngineDataPoint[] = [];
    const dataset: AnalyticsEngineDataset = { writeDataPoint: (p) => void (p && written.push(p)) };
    expect(writeMetrics(dataset, point)).toBe(true);
    expect(written).toEqual([point]);
    expect(writeMetrics(dataset, null)).toBe(false);
  });

  it("never throws: a throwing dataset is one warning line", () => {
    const { lines, log } = recordingLog();
    const dataset = {
      writeDataPoint() {
        throw new Error("too many data points");
      },
    };
    expect(writeMetrics(dataset, point, log)).toBe(false);
    expect(writeMetrics(dataset, point)).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "warn",
      event: "metrics-write-failed",
      kind: "refusal",
      error: "too many data points",
    });
  });

  it("logs a rejected promise (a binding that is an RPC stub) instead of leaving it unhandled", async () => {
    const { lines, log } = recordingLog();
    const dataset = { writeDataPoint: () => Promise.reject(new Error("no such method")) };
    expect(writeMetrics(dataset, point, log)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(lines).toMatchObject([{ event: "metrics-write-failed", error: "no such method" }]);
  });

  it("writes both points of a call, and only the call point when nothing was acknowledged", () => {
    const written: AnalyticsEngineDataPoint[] = [];
    const dataset = { writeDataPoint: (p: AnalyticsEngineDataPoint) => void written.push(p) };
    expect(writeCallMetrics(dataset, summary())).toBe(2);
    expect(written.map((p) => p.blobs?.[0])).toEqual(["call", "ack-latency"]);
    expect(writeCallMetrics(dataset, summary({ ackLatencyMs: null }))).toBe(1);
    expect(writeCallMetrics(undefined, summary())).toBe(0);
  });

  it("finds the binding by its name on an env, declared or not", () => {
    const dataset = { writeDataPoint() {} };
    expect(metricsBinding({ [METRICS_BINDING]: dataset })).toBe(dataset);
    expect(metricsBinding({})).toBeUndefined();
  });
});

describe("docs/operations.md", () => {
  const docs = readFileSync(new URL("../../../docs/operations.md", import.meta.url), "utf8");

  it("has the column table of every layout, and nothing else in it", () => {
    const rows = [
      ...docs.matchAll(/^\| `(call|ack-latency|refusal)` \| `((?:blob|double)\d+)` \| `(\w+)` \|/gm),
    ].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    const expected = Object.entries(LAYOUTS).flatMap(([kind, layout]) => [
      ...layout.blobs.map((name, i) => `${kind} blob${i + 1} ${name}`),
      ...layout.doubles.map((name, i) => `${kind} double${i + 1} ${name}`),
    ]);
    expect(rows.sort()).toEqual(expected.sort());
  });

  it("aliases each column in its SQL as the layouts name it", () => {
    const sql = [...docs.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]).join("\n");
    expect(sql.length).toBeGreaterThan(0);
    const aliases = [...sql.matchAll(/\b(blob|double)(\d+) AS (\w+)/g)];
    expect(aliases.length).toBeGreaterThan(5);
    for (const [, type, n, alias] of aliases) {
      const position = Number(n) - 1;
      const fits = Object.values(LAYOUTS).some(
        (l) => (type === "blob" ? l.blobs : l.doubles)[position] === alias,
      );
      expect(fits, `${type}${n} AS ${alias}`).toBe(true);
    }
  });
});
