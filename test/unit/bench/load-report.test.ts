import { describe, expect, it } from "vitest";
import {
  aggregateSummaries,
  combineRounds,
  type LevelResult,
  latestKeys,
  markdownTable,
  parseCallSummary,
  parseLoadArgs,
  parseWorkerVars,
} from "../../../tools/bench/load-report";
import { descendants, parseProcStat } from "../../../tools/bench/proc";

const BOUNDS = [5, 10, 20, 50, 100];
const summaryLine = (fields: Record<string, unknown>) =>
  JSON.stringify({
    ts: "2026-12-02T08:00:00.000Z",
    level: "info",
    event: "call-summary",
    sessionId: "s",
    durationMs: 10_000,
    channels: 2,
    rowsWritten: 20,
    audioSeconds: 20,
    ackLatencyMs: {
      count: 4,
      p50: 10,
      p99: 50,
      max: 42,
      histogram: { bounds: BOUNDS, counts: [0, 2, 1, 1, 0, 0] },
    },
    ...fields,
  });

describe("load bench arguments", () => {
  it("defaults to 10, 20 and 50 calls for 20 s each, every variant", () => {
    const parsed = parseLoadArgs([]);
    expect(parsed).toEqual({
      ok: true,
      options: {
        levels: [10, 20, 50],
        seconds: 20,
        warmupSeconds: 3,
        rampMs: 1000,
        variants: ["floor", "gateway", "no-forwarding", "no-lid"],
        pingMs: 1000,
        runs: 1,
        via: "binding",
        updateLatest: true,
        ref: null,
        storage: "shm",
      },
    });
  });

  it("takes levels, seconds, variants and a ref, and explains bad ones", () => {
    const parsed = parseLoadArgs([
      "--levels",
      "10,20",
      "--seconds",
      "15",
      "--variants",
      "floor,gateway",
      "--ref",
      "HEAD~2",
    ]);
    expect(parsed.ok && parsed.options).toMatchObject({
      levels: [10, 20],
      seconds: 15,
      variants: ["floor", "gateway"],
      ref: "HEAD~2",
    });
    expect(parseLoadArgs(["--levels", "10,x"])).toMatchObject({
      ok: false,
      error: expect.stringMatching(/--levels/),
    });
    expect(parseLoadArgs(["--levels", "2.5"])).toMatchObject({
      ok: false,
      error: expect.stringMatching(/whole/),
    });
    expect(parseLoadArgs(["--variants", "floor,turbo"])).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unknown variant "turbo"/),
    });
    expect(parseLoadArgs(["--seconds", "0"])).toMatchObject({
      ok: false,
      error: expect.stringMatching(/--seconds/),
    });
  });
});

describe("BENCH_WORKER_VARS", () => {
  it("is an object of strings, or nothing", () => {
    expect(parseWorkerVars(undefined)).toEqual({});
    expect(parseWorkerVars('{"BATCH_MS":"200","ACOUSTIC_DETECTOR":"off"}')).toEqual({
      BATCH_MS: "200",
      ACOUSTIC_DETECTOR: "off",
    });
    expect(() => parseWorkerVars("BATCH_MS=200")).toThrow(/not JSON/);
    expect(() => parseWorkerVars("[1]")).toThrow(/JSON object/);
    expect(() => parseWorkerVars('{"BATCH_MS":200}')).toThrow(/BATCH_MS must be a string/);
  });
});

describe("the worker's call-summary lines", () => {
  it("reads the fields the bench needs and ignores every other line", () => {
    expect(parseCallSummary(summaryLine({}))).toEqual({
      durationMs: 10_000,
      channels: 2,
      rowsWritten: 20,
      audioSeconds: 20,
      ackLatencyMs: {
        count: 4,
        p50: 10,
        p99: 50,
        max: 42,
        histogram: { bounds: BOUNDS, counts: [0, 2, 1, 1, 0, 0] },
      },
    });
    expect(parseCallSummary(JSON.stringify({ event: "opened" }))).toBeNull();
    expect(parseCallSummary("workerd: some runtime warning")).toBeNull();
    expect(parseCallSummary(summaryLine({ ackLatencyMs: null }))?.ackLatencyMs).toBeNull();
  });

  it("refuses a summary with a missing or mistyped field rather than averaging it", () => {
    expect(() => parseCallSummary(summaryLine({ rowsWritten: undefined }))).toThrow(/rowsWritten/);
    expect(() => parseCallSummary(summaryLine({ ackLatencyMs: { count: 1 } }))).toThrow(/histogram/);
  });

  it("adds calls up: rows per call-second over all calls, latency from the merged histograms", () => {
    const lines = [
      parseCallSummary(summaryLine({})),
      parseCallSummary(
        summaryLine({
          durationMs: 30_000,
          rowsWritten: 100,
          ackLatencyMs: {
            count: 96,
            p50: 5,
            p99: 100,
            max: 180,
            histogram: { bounds: BOUNDS, counts: [90, 3, 0, 0, 1, 2] },
          },
        }),
      ),
    ].filter((l) => l !== null);
    const aggregate = aggregateSummaries(lines);
    expect(aggregate.calls).toBe(2);
    expect(aggregate.rowsWrittenPerCallSecond).toBeCloseTo(120 / 40, 10);
    // 100 samples: 90 ≤ 5, 5 in (5,10], 1 in (10,20], 1 in (20,50], 1 in (50,100], 2 over 100 (max 180).
    expect(aggregate.ackLatencyMs).toEqual({ count: 100, p50: 5, p99: 180, max: 180 });
  });

  it("gives null where no call logged a summary", () => {
    expect(aggregateSummaries([])).toEqual({
      calls: 0,
      rowsWrittenPerCallSecond: null,
      ackLatencyMs: { count: 0, p50: null, p99: null, max: null },
    });
  });
});

const level = (
  variant: LevelResult["variant"],
  calls: number,
  fields: Partial<LevelResult> = {},
): LevelResult => ({
  variant,
  calls,
  callsCompleted: calls,
  cpuMsPerAudioSecond: 10,
  cpuMsPerAudioSecondWholeRun: 12,
  ratioToFloor: 4,
  rowsWrittenPerCallSecond: 1.5,
  ackLatencyMs: { count: 10, p50: 20, p99: 50, max: 60 },
  pongMs: { count: 10, p50: 1, p99: 3, max: 4 },
  openedMs: { count: calls, p50: 5, p99: 9, max: 9 },
  framesLost: 0,
  ...fields,
});

describe("results", () => {
  it("merges into latest.json the 20-call CPU figures, rows, the 50-call latency and frames lost", () => {
    const keys = latestKeys([
      level("floor", 20, { cpuMsPerAudioSecond: 2.5, framesLost: null }),
      level("gateway", 20, { cpuMsPerAudioSecond: 7, rowsWrittenPerCallSecond: 1.2, framesLost: 0 }),
      level("no-lid", 20, { cpuMsPerAudioSecond: 6, framesLost: 0 }),
      level("gateway", 50, { ackLatencyMs: { count: 5, p50: 20, p99: 100, max: 120 }, framesLost: 2 }),
      level("no-forwarding", 20, { framesLost: null }),
    ]);
    expect(keys).toEqual({
      cpu_ms_per_audio_second_with_lid: 7,
      cpu_ms_per_audio_second_without_lid: 6,
      floor_cpu_ms_per_audio_second: 2.5,
      rows_written_per_call_second: 1.2,
      p99_forward_latency_ms_at_50_calls: 100,
      frames_lost: 2,
    });
  });

  it("reports null for a skipped variant and leaves keys of levels that did not run alone", () => {
    const keys = latestKeys([
      level("gateway", 10),
      { ...level("no-lid", 20, { cpuMsPerAudioSecond: null, framesLost: null }), skipped: "no switch" },
    ]);
    expect(keys).toEqual({ cpu_ms_per_audio_second_without_lid: null, frames_lost: 0 });
  });

  it("prints a Markdown row per variant and level", () => {
    const table = markdownTable([
      level("gateway", 20),
      { ...level("no-lid", 20, { cpuMsPerAudioSecond: null, ackLatencyMs: null }), skipped: "no switch" },
    ]).split("\n");
    expect(table).toHaveLength(4);
    expect(table[2]).toBe(
      "| 20 | langhook, forwarding on | 10.0 | 4.0 | 12.0 | 1.5 | 20 / 50 | 3.0 | 0 | 20/20 |",
    );
    expect(table[3]).toMatch(/\| – \| .* skipped: no switch \|$/);
    const late = markdownTable([
      level("gateway", 50, { pongMs: { count: 9, p50: 900, p99: 2500, max: 2600 } }),
    ]);
    expect(late).toMatch(/\| 50 \| langhook, forwarding on \| 10\.0 \(behind\) \|/);
  });
});

describe("rounds (--runs)", () => {
  const round = (
    variant: LevelResult["variant"],
    r: number,
    cpu: number | null,
    pongSamples: number[],
    fields: Partial<LevelResult> = {},
  ) => ({ ...level(variant, 20, { cpuMsPerAudioSecond: cpu, ...fields }), round: r, pongSamples });

  it("pairs each gateway round with the floor measured beside it and takes medians", () => {
    const combined = combineRounds([
      round("floor", 1, 2, [1, 1]),
      round("gateway", 1, 6, [5, 6], { framesLost: 0, callsCompleted: 20 }),
      round("floor", 2, 3, [1, 2]),
      round("gateway", 2, 7.5, [7, 40], { framesLost: 1, callsCompleted: 19 }),
      round("floor", 3, 2.5, [2, 2]),
      round("gateway", 3, 6.5, [8, 9], { framesLost: 0, callsCompleted: 20 }),
    ]);
    expect(combined.map((r) => r.variant)).toEqual(["floor", "gateway"]);
    const gateway = combined[1] as LevelResult;
    // Ratios per round: 3, 2.5, 2.6; their median, not median(cpu) / median(floor) = 6.5 / 2.5 = 2.6.
    expect(gateway.ratioToFloor).toBeCloseTo(2.6);
    expect(gateway.rounds?.ratioToFloor.map((v) => Number(v?.toFixed(2)))).toEqual([3, 2.5, 2.6]);
    expect(gateway.cpuMsPerAudioSecond).toBe(6.5);
    // Pongs of all rounds pooled: 6 samples, so the p99 is the largest.
    expect(gateway.pongMs).toMatchObject({ count: 6, p99: 40, max: 40 });
    expect(gateway.framesLost).toBe(1);
    expect(gateway.callsCompleted).toBe(19);
    expect(combined[0]?.ratioToFloor).toBe(1);
    expect(markdownTable(combined).split("\n")[3]).toContain("| 2.6 (2.5–3.0) |");
  });

  it("leaves one round as it was, without a range", () => {
    const [gateway] = combineRounds([round("gateway", 1, 6, [5]), round("floor", 1, 2, [1])]);
    expect(gateway?.ratioToFloor).toBe(3);
    expect(gateway?.rounds).toBeUndefined();
    expect(markdownTable([gateway as LevelResult])).toContain("| 3.0 |");
  });

  it("keeps a skipped variant skipped", () => {
    const [noLid] = combineRounds([
      { ...round("no-lid", 1, null, []), skipped: "no switch" },
      { ...round("no-lid", 2, null, []), skipped: "no switch" },
    ]);
    expect(noLid?.skipped).toBe("no switch");
    expect(noLid?.cpuMsPerAudioSecond).toBeNull();
  });
});

describe("/proc", () => {
  it("parses a stat line whose command name holds spaces and parentheses", () => {
    const line = "4242 (work (er) d) S 4000 4242 4000 0 -1 4194560 1 0 0 0 150 30 7 3 20 0 9 0 100 0 0";
    expect(parseProcStat(line)).toEqual({
      pid: 4242,
      comm: "work (er) d",
      ppid: 4000,
      utime: 150,
      stime: 30,
      cutime: 7,
      cstime: 3,
    });
    expect(() => parseProcStat("garbage")).toThrow(/not a \/proc stat line/);
  });

  it("finds a process's descendants", () => {
    const p = (pid: number, ppid: number) => ({
      pid,
      ppid,
      comm: "x",
      utime: 0,
      stime: 0,
      cutime: 0,
      cstime: 0,
    });
    expect(descendants([p(1, 0), p(2, 1), p(3, 2), p(4, 1), p(5, 9)], 2)).toEqual([2, 3]);
    expect(descendants([p(1, 0), p(2, 1), p(3, 2), p(4, 1)], 1).sort()).toEqual([1, 2, 3, 4]);
  });
});
