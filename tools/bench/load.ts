// `npm run bench:load`: what a call costs the gateway under concurrent real-time load, next to the least
// any Durable Object can do with the same traffic (tools/bench/floor-worker.ts).
//
// Each variant and level gets a fresh plain Miniflare (not `wrangler dev`, whose dev tooling costs 3-5×
// the CPU per message) serving the bundle `wrangler deploy --dry-run` makes, and, where forwarding is on,
// a fresh development transcription server in a child process. N simulated Genesys calls (stereo PCMU,
// 20 ms frames, Spanish and French speech looped) run in real time; the workerd process tree's CPU is read
// from /proc before and after the steady state and divided by the channel-audio seconds sent meanwhile.
// Rows written and frame→ack latency come from the worker's own `call-summary` log lines (null while the
// worker writes none). Writes bench/results/load-<timestamp>.json, merges its keys into
// bench/results/latest.json and prints a Markdown table. `--help` lists the options.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { loopedMulawFrames } from "../simulator/audio";
import { type CallResult, DEV_ORG, SimulatedCall } from "../simulator/call";
import { distribution } from "../simulator/stats";
import {
  aggregateSummaries,
  type CallSummaryLine,
  combineRounds,
  type LevelResult,
  LOAD_USAGE,
  type LoadOptions,
  latestKeys,
  markdownTable,
  parseCallSummary,
  parseLoadArgs,
  parseWorkerVars,
  type RoundResult,
  type Variant,
} from "./load-report";
import { childrenNamed, machineCpu, treeCpuMs } from "./proc";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// Each run bundles into its own folder: two runs at once must not load each other's bundles.
const WORK = join(ROOT, ".tmp", "bench-load", `run-${process.pid}`);
const LOCK = join(ROOT, ".tmp", "bench-load", "lock");
const FRAME_MS = 20;
const SAMPLES_PER_FRAME = (8000 * FRAME_MS) / 1000;
const CHANNELS = ["external", "internal"] as const;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(LOAD_USAGE);
  process.exit(0);
}
const parsed = parseLoadArgs(process.argv.slice(2));
if (!parsed.ok) {
  console.error(`bench:load: ${parsed.error}\n\n${LOAD_USAGE}`);
  process.exit(2);
}
const options: LoadOptions = parsed.options;
// Extra worker variables for an experiment, e.g. BENCH_WORKER_VARS='{"BATCH_MS":"200"}' (recorded in the results).
const extraVars = (() => {
  try {
    return parseWorkerVars(process.env.BENCH_WORKER_VARS);
  } catch (err) {
    console.error(`bench:load: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
})();
// The objects' SQLite files: on a RAM disk unless asked otherwise (see --storage), one folder per run.
const STORAGE =
  options.storage === "shm" && existsSync("/dev/shm")
    ? join("/dev/shm", `langhook-bench-${process.pid}`)
    : join(WORK, "storage");

/**
 * The tree to bundle: the working tree, or the commit `ref` exported (git archive) into .tmp/ with the
 * working tree's node_modules linked in, so a baseline can be measured while the code is being changed.
 */
function sourceTree(ref: string | null): { dir: string; commit: string | null } {
  if (ref === null) return { dir: ROOT, commit: null };
  const git = (...args: string[]) => {
    const run = spawnSync("git", args, { cwd: ROOT, encoding: "utf8" });
    if (run.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${run.stderr.trim()}`);
    return run.stdout;
  };
  const commit = git("rev-parse", "--verify", `${ref}^{commit}`).trim();
  const dir = join(WORK, `tree-${commit.slice(0, 12)}`);
  if (!existsSync(join(dir, "wrangler.toml"))) {
    mkdirSync(dir, { recursive: true });
    const tar = spawnSync("git", ["archive", "--format=tar", commit], { cwd: ROOT, maxBuffer: 1 << 30 });
    if (tar.status !== 0) throw new Error(`git archive ${commit} failed: ${tar.stderr.toString()}`);
    const untar = spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
    if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr.toString()}`);
  }
  if (!existsSync(join(dir, "node_modules")))
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return { dir, commit };
}

/** `wrangler deploy --dry-run` into `outdir`: the very bundle a deploy would upload. */
function bundle(outdir: string, config: string, cwd: string): string {
  rmSync(outdir, { recursive: true, force: true });
  const wrangler = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const run = spawnSync(
    process.execPath,
    [wrangler, "deploy", "--dry-run", "--config", config, "--outdir", outdir],
    { cwd, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  if (run.status !== 0)
    throw new Error(`wrangler deploy --dry-run (${config}) failed:\n${run.stderr}${run.stdout}`);
  // wrangler names the bundle after the entry point (worker.js, floor-worker.js).
  const scripts = readdirSync(outdir).filter((f) => f.endsWith(".js"));
  if (scripts.length !== 1)
    throw new Error(`expected one bundled .js in ${outdir}, found ${scripts.join(", ") || "none"}`);
  return join(outdir, scripts[0] as string);
}

/** Child processes still running, ended however this process exits. */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(WORK, { recursive: true, force: true });
  rmSync(STORAGE, { recursive: true, force: true });
  try {
    if (readFileSync(LOCK, "utf8") === String(process.pid)) rmSync(LOCK);
  } catch {
    // Not ours, or already gone.
  }
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * One load bench at a time on this machine: two at once would each measure the other's CPU. Waits for a
 * running one (its pid is in the lock file) and takes over a lock whose process is gone.
 */
async function takeLock(): Promise<void> {
  mkdirSync(join(ROOT, ".tmp", "bench-load"), { recursive: true });
  for (let announced = false; ; ) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: "wx" });
      return;
    } catch {
      const holder = Number(readFileSync(LOCK, "utf8"));
      if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
        rmSync(LOCK, { force: true });
        continue;
      }
      if (!announced)
        console.log(`another bench:load (pid ${holder}) is running; waiting for it to finish ...`);
      announced = true;
      await sleep(2000);
    }
  }
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

interface Transcriber {
  url: string;
  process: ChildProcess;
}

async function startTranscriber(): Promise<Transcriber> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "tools/bench/transcriber-child.ts")], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  // Its stderr is passed on, but not inherited: an inherited pipe would outlive this process.
  child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split("\n")[0];
      if (buffered.includes("\n") && line !== undefined) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`the development transcription server exited (${code})`)));
    setTimeout(
      () => reject(new Error("the development transcription server did not start within 20 s")),
      20_000,
    );
  });
  return { url, process: child };
}

async function stopTranscriber(t: Transcriber): Promise<void> {
  if (t.process.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => t.process.once("exit", () => resolve()));
  t.process.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
}

interface TranscriberStats {
  gaps: number;
  lostChunks: number;
  sessions: Record<string, { channels: Record<string, { samples: number }> }>;
}

/** Channel frames (20 ms of one channel) the calls sent that the transcription server never received. */
function framesMissing(stats: TranscriberStats, results: readonly CallResult[]): number {
  let missing = 0;
  for (const r of results) {
    const channels = stats.sessions[r.sessionId]?.channels ?? {};
    const received = Object.values(channels).reduce((n, c) => n + c.samples, 0);
    missing += Math.max(0, r.samplesSent * CHANNELS.length - received);
  }
  return Math.ceil(missing / SAMPLES_PER_FRAME);
}

function speechChannels(): Uint8Array[] {
  const clip = (name: string) =>
    new Uint8Array(readFileSync(join(ROOT, "test/unit/detect/fixtures", `${name}.ul`)));
  const silence = (seconds: number) => new Uint8Array(seconds * 8000).fill(0xff); // µ-law 0xff is zero
  const concat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  // Customer in Spanish, agent in French, with pauses so utterances end and transcripts come back;
  // loops of different lengths so the two sides drift like a conversation.
  return [concat(clip("speech-es"), silence(0.8)), concat(silence(1.2), clip("speech-fr"), silence(0.4))];
}

interface RunDetail extends RoundResult {
  channelAudioSeconds: number;
  workerCpuMs: number;
  windowSeconds: number;
  /** Share of the machine's CPU busy during the window (all processes), 0-1: how noisy it was. */
  machineBusy: number;
  loadGeneratorCpuMs: number;
  transcriberCpuMs: number | null;
  chunkGaps: number | null;
  callSummaries: number;
  transcripts: number;
  languages: string[];
  protocolErrors: string[];
  failures: string[];
  logLines: Record<string, number>;
}

await takeLock();
const source = sourceTree(options.ref);
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(
  readFileSync(join(source.dir, "wrangler.toml"), "utf8"),
)?.[1];
if (compatibilityDate === undefined) throw new Error("wrangler.toml has no compatibility_date");
const devVars = parseEnv(readFileSync(join(source.dir, ".dev.vars.example"), "utf8")) as Record<
  string,
  string
>;

console.log(
  `bundling the gateway (${source.commit ?? "working tree"}) and the floor with wrangler deploy --dry-run ...`,
);
const gatewayScript = bundle(join(WORK, "gateway"), join(source.dir, "wrangler.toml"), source.dir);
const floorScript = bundle(join(WORK, "floor"), join(ROOT, "tools/bench/floor-wrangler.toml"), ROOT);
// The lead adds ACOUSTIC_DETECTOR=off; until the bundle reads it, the no-lid run is reported as null.
const detectorSwitch = readFileSync(gatewayScript, "utf8").includes("ACOUSTIC_DETECTOR");
const speech = speechChannels();

function failedRun(variant: Variant, calls: number, round: number): RoundResult {
  return {
    variant,
    calls,
    round,
    pongSamples: [],
    callsCompleted: 0,
    cpuMsPerAudioSecond: null,
    ratioToFloor: null,
    rowsWrittenPerCallSecond: null,
    ackLatencyMs: null,
    pongMs: null,
    openedMs: null,
    framesLost: null,
  };
}

async function runLevel(variant: Variant, calls: number, round: number): Promise<RunDetail | RoundResult> {
  if (variant === "no-lid" && !detectorSwitch) {
    return { ...failedRun(variant, calls, round), skipped: "the worker does not read ACOUSTIC_DETECTOR" };
  }

  const forwarding = variant === "gateway" || variant === "no-lid";
  const transcriber = forwarding ? await startTranscriber() : null;
  const summaries: CallSummaryLine[] = [];
  const logLines: Record<string, number> = {};
  const summaryErrors: string[] = [];
  const bindings: Record<string, string> = { ...devVars, LOG_LEVEL: "info" };
  delete bindings.TRANSCRIPTION_URL;
  if (transcriber !== null) bindings.TRANSCRIPTION_URL = transcriber.url;
  if (variant === "no-lid") bindings.ACOUSTIC_DETECTOR = "off";
  Object.assign(bindings, extraVars);

  const before = new Set(childrenNamed(process.pid, "workerd"));
  // Miniflare 5 takes a new options shape; the classic (v4) one, converted by Miniflare itself, is the
  // one its README documents.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      scriptPath: variant === "floor" ? floorScript : gatewayScript,
      compatibilityDate,
      host: "127.0.0.1",
      port: 0,
      cf: false,
      // For tools/bench/profile.mjs: workerd's inspector, to profile the isolate under this load.
      ...(process.env.BENCH_INSPECTOR_PORT
        ? { inspectorPort: Number(process.env.BENCH_INSPECTOR_PORT) }
        : {}),
      log: new Log(LogLevel.WARN),
      // A fresh folder per variant and level, so no run sees another's objects.
      durableObjectsPersist: join(STORAGE, `${variant}-${calls}-${round}`),
      bindings: variant === "floor" ? {} : bindings,
      // Straight to the transcription server, as a deployed Worker's subrequest goes: Miniflare's global
      // fetch passes every request through a JavaScript outbound worker of its own (see --via).
      ...(transcriber !== null && options.via === "binding"
        ? {
            serviceBindings: {
              TRANSCRIPTION_SERVICE: { external: { address: new URL(transcriber.url).host, http: {} } },
            },
          }
        : {}),
      durableObjects:
        variant === "floor"
          ? { FLOOR: { className: "FloorCall", useSQLite: true } }
          : {
              CALL_SESSION: { className: "CallSession", useSQLite: true },
              TOKEN_BROKER: { className: "TokenBroker", useSQLite: true },
            },
      handleStructuredLogs: ({ level, message }) => {
        for (const line of message.split("\n")) {
          let event = level;
          if (line.startsWith("{")) {
            try {
              const parsedLine = JSON.parse(line) as { level?: string; event?: string };
              event = `${parsedLine.level ?? level} ${parsedLine.event ?? "?"}`;
            } catch {
              // Not one of our JSON lines: counted under the runtime's level.
            }
          }
          logLines[event] = (logLines[event] ?? 0) + 1;
          try {
            const summary = parseCallSummary(line);
            if (summary !== null) summaries.push(summary);
          } catch (err) {
            summaryErrors.push(String(err));
          }
        }
      },
    }),
  );
  try {
    const url = await mf.ready;
    const workerd = childrenNamed(process.pid, "workerd").filter((pid) => !before.has(pid));
    if (workerd.length !== 1) throw new Error(`expected one new workerd process, found ${workerd.length}`);
    const pid = workerd[0] as number;
    const cpuStart = treeCpuMs(pid);
    const stop = new AbortController();
    const live: SimulatedCall[] = [];
    const runs: Promise<CallResult>[] = [];
    for (let i = 0; i < calls; i++) {
      if (i > 0) await sleep(options.rampMs / calls);
      const call = new SimulatedCall({
        url: `ws://${url.host}/api/v1/voicetranscription/ws`,
        apiKey: devVars.AUDIOHOOK_API_KEY ?? "",
        secret: devVars.AUDIOHOOK_CLIENT_SECRET ?? null,
        organizationId: DEV_ORG,
        language: "es-ES",
        format: "PCMU",
        channels: [...CHANNELS],
        frameMs: FRAME_MS,
        speed: 1,
        pingIntervalMs: options.pingMs,
        source: loopedMulawFrames(speech),
        signal: stop.signal,
      });
      live.push(call);
      runs.push(call.run());
    }
    // Steady state: every call past its open, then the warm-up.
    for (
      let waited = 0;
      waited < 15_000 && live.some((c) => c.phase === "connecting" || c.phase === "opening");
      waited += 50
    ) {
      await sleep(50);
    }
    await sleep(options.warmupSeconds * 1000);
    const audio = () => live.reduce((n, c) => n + c.samplesSent, 0);
    const cpu0 = treeCpuMs(pid);
    const tr0 = transcriber?.process.pid === undefined ? null : treeCpuMs(transcriber.process.pid);
    const gen0 = process.cpuUsage();
    const machine0 = machineCpu();
    const audio0 = audio();
    const t0 = performance.now();
    await sleep(options.seconds * 1000);
    const cpu1 = treeCpuMs(pid);
    const tr1 = transcriber?.process.pid === undefined ? null : treeCpuMs(transcriber.process.pid);
    const gen = process.cpuUsage(gen0);
    const machine1 = machineCpu();
    const audio1 = audio();
    const t1 = performance.now();
    stop.abort();
    const results = await Promise.all(runs);
    // The call summaries are logged as the sockets close, a moment after `closed`.
    for (let waited = 0; waited < 5000 && variant !== "floor" && summaries.length < calls; waited += 100) {
      await sleep(100);
    }
    const cpuEnd = treeCpuMs(pid);
    const wholeAudioSeconds = (results.reduce((n, r) => n + r.samplesSent, 0) * CHANNELS.length) / 8000;
    const stats =
      transcriber === null
        ? null
        : ((await (await fetch(`${transcriber.url}/dev/stats`)).json()) as TranscriberStats);
    const channelAudioSeconds = ((audio1 - audio0) * CHANNELS.length) / 8000;
    const aggregate = aggregateSummaries(summaries);
    const haveSummaries = summaries.length > 0;
    if (summaryErrors.length > 0) console.warn(`  call-summary lines not understood: ${summaryErrors[0]}`);
    const pongSamples = results.flatMap((r) => r.pongMs);
    return {
      variant,
      calls,
      round,
      pongSamples,
      callsCompleted: results.filter((r) => r.ok).length,
      cpuMsPerAudioSecond: (cpu1 - cpu0) / channelAudioSeconds,
      ratioToFloor: null,
      rowsWrittenPerCallSecond: haveSummaries ? aggregate.rowsWrittenPerCallSecond : null,
      ackLatencyMs: haveSummaries && aggregate.ackLatencyMs.count > 0 ? aggregate.ackLatencyMs : null,
      pongMs: distribution(pongSamples),
      openedMs: distribution(results.flatMap((r) => (r.openedMs === null ? [] : [r.openedMs]))),
      framesLost: stats === null ? null : framesMissing(stats, results),
      chunkGaps: stats === null ? null : stats.lostChunks,
      channelAudioSeconds,
      workerCpuMs: cpu1 - cpu0,
      cpuMsPerAudioSecondWholeRun: (cpuEnd - cpuStart) / wholeAudioSeconds,
      windowSeconds: (t1 - t0) / 1000,
      machineBusy: (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total),
      loadGeneratorCpuMs: (gen.user + gen.system) / 1000,
      transcriberCpuMs: tr0 === null || tr1 === null ? null : tr1 - tr0,
      callSummaries: summaries.length,
      transcripts: results.reduce((n, r) => n + r.transcripts, 0),
      languages: [...new Set(results.flatMap((r) => r.languages))].sort(),
      protocolErrors: [...new Set(results.flatMap((r) => r.protocolErrors))].slice(0, 20),
      failures: [...new Set(results.flatMap((r) => (r.failure === null ? [] : [r.failure])))].slice(0, 20),
      logLines,
    };
  } finally {
    if (transcriber !== null) await stopTranscriber(transcriber);
    await mf.dispose().catch(() => {});
  }
}

const startedAt = new Date();
const rounds: (RunDetail | RoundResult)[] = [];
for (const calls of options.levels) {
  for (let round = 1; round <= options.runs; round++) {
    // Variants of one level run back to back, so the machine's noise is as alike as it gets for them.
    for (const variant of options.variants) {
      const label = options.runs > 1 ? `${calls} calls, round ${round}/${options.runs}` : `${calls} calls`;
      process.stdout.write(`${label}, ${variant}: `);
      let result: RunDetail | RoundResult;
      try {
        result = await runLevel(variant, calls, round);
      } catch (err) {
        // One variant that cannot run (e.g. a bundle workerd refuses) is reported; the others still run.
        const message = err instanceof Error ? err.message.split("\n").slice(0, 3).join(" ") : String(err);
        result = { ...failedRun(variant, calls, round), skipped: `failed: ${message}` };
      }
      rounds.push(result);
      if (result.skipped) console.log(`skipped (${result.skipped})`);
      else {
        const d = result as RunDetail;
        console.log(
          `${d.cpuMsPerAudioSecond?.toFixed(2)} ms CPU per channel-audio-second, ${d.callsCompleted}/${calls} calls completed, ` +
            `pong p99 ${d.pongMs?.p99?.toFixed(1)} ms, ${d.transcripts} transcripts, machine ${(d.machineBusy * 100).toFixed(0)}% busy` +
            (d.failures.length > 0 ? `; failures: ${d.failures.join("; ")}` : "") +
            (d.protocolErrors.length > 0 ? `; protocol errors: ${d.protocolErrors.join("; ")}` : ""),
        );
      }
    }
  }
}
const results: LevelResult[] = combineRounds(rounds);

const table = markdownTable(results);
const require = createRequire(import.meta.url);
const report = {
  startedAt: startedAt.toISOString(),
  node: process.version,
  miniflare: (require("miniflare/package.json") as { version: string }).version,
  compatibilityDate,
  gateway: source.commit ?? "working tree",
  workerVars: extraVars,
  storage: STORAGE.startsWith("/dev/shm") ? "shm" : "disk",
  cpus: cpus().length,
  loadavgAtEnd: loadavg(),
  options,
  audio: "stereo PCMU, 20 ms frames, real time; external: speech-es.ul looped, internal: speech-fr.ul looped",
  detectorSwitch,
  results,
  // Each run in full (its pongs summarised): with --runs 1, the same figures as `results`.
  runs: rounds.map(({ pongSamples: _, ...run }) => run),
  markdown: table,
};
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
const file = join(ROOT, "bench/results", `load-${startedAt.toISOString().replaceAll(":", "-")}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
if (options.updateLatest) {
  const latestFile = join(ROOT, "bench/results/latest.json");
  const latest = existsSync(latestFile)
    ? (JSON.parse(readFileSync(latestFile, "utf8")) as Record<string, unknown>)
    : {};
  writeFileSync(latestFile, `${JSON.stringify({ ...latest, ...latestKeys(results) }, null, 2)}\n`);
}
console.log(
  `\n${table}\n\nwritten to ${file}${options.updateLatest ? " and bench/results/latest.json" : ""}`,
);
const failed = results.some(
  (r) => r.skipped?.startsWith("failed") || (!r.skipped && r.callsCompleted < r.calls),
);
process.exit(failed ? 1 : 0);
