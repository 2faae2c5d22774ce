// Reading back what the worker wrote to CALL_METRICS (a service binding to recorder-worker.js here).

import { env } from "cloudflare:test";
import { column, type PointKind } from "../../src/session/metrics";

interface Recorder {
  points(): Promise<AnalyticsEngineDataPoint[]>;
  clear(): Promise<void>;
}

export const bindings = env as unknown as {
  CALL_METRICS: Recorder;
  CALL_METRICS_DATASET: AnalyticsEngineDataset;
};
export const recorder = bindings.CALL_METRICS;

/** The points of one kind written so far, waiting up to `ms` for `count` of them. */
export async function written(
  kind: PointKind,
  count: number,
  ms = 2000,
): Promise<AnalyticsEngineDataPoint[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const points = (await recorder.points()).filter((p) => p.blobs?.[0] === kind);
    if (points.length >= count || Date.now() > deadline) return points;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A named field of a point, read through its layout's column (as the documented SQL reads it). */
export function field(point: AnalyticsEngineDataPoint | undefined, kind: PointKind, name: string): unknown {
  const col = column(kind, name);
  const n = Number(col.replace(/^\D+/, "")) - 1;
  return col.startsWith("blob") ? point?.blobs?.[n] : point?.doubles?.[n];
}
