import { describe, expect, it } from "vitest";
import {
  bucketCounts,
  distribution,
  histogramPercentile,
  mergeHistograms,
  percentile,
} from "../../../tools/simulator/stats";

describe("percentile (nearest rank)", () => {
  it("picks the smallest value with p% at or below it, whatever the input order", () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(values[0]).toBe(5); // the input is not sorted in place
  });

  it("p99 of 100 values is the 99th, not the maximum", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBe(99);
  });

  it("is null for no values and refuses p outside 0..100", () => {
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile([1], 101)).toThrow(/0\.\.100/);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it("summarises a distribution", () => {
    expect(distribution([3, 1, 2])).toEqual({ count: 3, p50: 2, p99: 3, max: 3 });
    expect(distribution([])).toEqual({ count: 0, p50: null, p99: null, max: null });
  });
});

describe("latency histograms", () => {
  const bounds = [5, 10, 20];

  it("reads per-bucket counts as they are", () => {
    expect(bucketCounts({ bounds, counts: [1, 2, 3, 4] }, 10)).toEqual([1, 2, 3, 4]);
  });

  it("turns cumulative counts (samples <= bound, then the overflow) into per-bucket counts", () => {
    // 1 sample <= 5, 3 <= 10, 6 <= 20, 4 over 20: 10 in all.
    expect(bucketCounts({ bounds, counts: [1, 3, 6, 4] }, 10)).toEqual([1, 2, 3, 4]);
  });

  it("refuses counts that fit neither reading, or the wrong number of counts", () => {
    expect(() => bucketCounts({ bounds, counts: [5, 1, 1, 1] }, 10)).toThrow(/neither/);
    expect(() => bucketCounts({ bounds, counts: [1, 2, 3] }, 6)).toThrow(/bounds \+ 1/);
  });

  it("merges histograms with the same bounds and refuses different ones", () => {
    const merged = mergeHistograms([
      { bounds, buckets: [1, 0, 0, 0] },
      { bounds, buckets: [0, 2, 0, 1] },
    ]);
    expect(merged).toEqual({ bounds, buckets: [1, 2, 0, 1] });
    expect(mergeHistograms([])).toBeNull();
    expect(() =>
      mergeHistograms([
        { bounds, buckets: [1, 0, 0, 0] },
        { bounds: [5, 10, 50], buckets: [1, 0, 0, 0] },
      ]),
    ).toThrow(/different bounds/);
  });

  it("reports a percentile as the upper bound of its bucket, the overflow as the value given", () => {
    const buckets = [50, 40, 9, 1]; // 100 samples
    expect(histogramPercentile(bounds, buckets, 50)).toBe(5);
    expect(histogramPercentile(bounds, buckets, 90)).toBe(10);
    expect(histogramPercentile(bounds, buckets, 99)).toBe(20);
    expect(histogramPercentile(bounds, buckets, 100, 73)).toBe(73);
    expect(histogramPercentile(bounds, buckets, 100)).toBe(Number.POSITIVE_INFINITY);
    expect(histogramPercentile(bounds, [0, 0, 0, 0], 50)).toBeNull();
  });
});
