// `npm run fuzz`: throws a bounded number of mutated AudioHook messages and frames at a running local
// worker (`npm run dev`), over many signed connections, while good calls run beside them, and reports
// crashes, hangs, protocol violations and whether the good calls lost any audio. Every figure must be 0;
// the exit status is 1 otherwise (2 for bad arguments or no worker). Loopback URLs only.
//
//   npm run fuzz -- [--count 20000] [--url http://127.0.0.1:8787] [--concurrency 8] [--seed N]
//                   [--transcriber http://127.0.0.1:50051] [--hang-ms 10000] [--max-per-connection 120]

import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { audiohookHeaders } from "../simulator/sign";
import { ConformanceChecker, isLoopback, type Violation } from "./conformance";
import { audioFrame, type ClientCursor, Dice, goodMessage, mutate, ORG_ID, randomType, rng } from "./mutate";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8787" },
    path: { type: "string", default: "/api/v1/voicetranscription/ws" },
    count: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "8" },
    "max-per-connection": { type: "string", default: "120" },
    seed: { type: "string" },
    "hang-ms": { type: "string", default: "10000" },
    transcriber: { type: "string", default: "http://127.0.0.1:50051" },
    "good-call-seconds": { type: "string", default: "4" },
    "api-key": { type: "string", default: "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh" },
    secret: { type: "string", default: "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=" },
  },
});

function positiveInt(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) usage(`--${name} must be a positive integer, got ${text}`);
  return n;
}

function usage(message: string): never {
  console.error(`fuzz: ${message}`);
  process.exit(2);
}

const base = new URL(values.url);
const transcriber = new URL(values.transcriber);
for (const url of [base, transcriber]) {
  if (!isLoopback(url))
    usage(`refusing ${url.origin}: the fuzzer only targets loopback (127.0.0.1, localhost, [::1])`);
}
const wsUrl = new URL(values.path, base);
wsUrl.protocol = base.protocol === "https:" ? "wss:" : "ws:";
const COUNT = positiveInt("count", values.count);
const CONCURRENCY = positiveInt("concurrency", values.concurrency);
const MAX_PER_CONNECTION = positiveInt("max-per-connection", values["max-per-connection"]);
const HANG_MS = positiveInt("hang-ms", values["hang-ms"]);
const GOOD_CALL_SECONDS = positiveInt("good-call-seconds", values["good-call-seconds"]);
const SEED = values.seed === undefined ? Date.now() % 2 ** 31 : positiveInt("seed", values.seed);

const totals = {
  connections: 0,
  messages: 0,
  mutated: 0,
  frames: 0,
  disconnects: 0,
  crashes: 0,
  hangs: 0,
  violations: 0,
  goodCalls: 0,
  goodCallFailures: 0,
  goodCallLostSamples: 0,
  /** From the final close to closed (or the socket closing), the slowest connection's. */
  slowestCloseMs: 0,
  slowestCloseSession: "",
};
const findings: { kind: string; sessionId: string; detail: string }[] = [];

function finding(
  kind: "crash" | "hang" | "violation" | "good-call",
  sessionId: string,
  detail: string,
): void {
  if (kind === "crash") totals.crashes += 1;
  if (kind === "hang") totals.hangs += 1;
  if (kind === "violation") totals.violations += 1;
  if (kind === "good-call") totals.goodCallFailures += 1;
  // Keep the report readable: the first findings of each kind say enough.
  if (findings.filter((f) => f.kind === kind).length < 20) findings.push({ kind, sessionId, detail });
}

/** A signed upgrade; resolves with the open socket, or the reason it did not open. */
async function connect(sessionId: string): Promise<WebSocket | string> {
  const headers = await audiohookHeaders({
    target: wsUrl.pathname + wsUrl.search,
    authority: wsUrl.host,
    apiKey: values["api-key"],
    secret: values.secret,
    organizationId: ORG_ID,
    sessionId,
    correlationId: crypto.randomUUID(),
  });
  // Node 22's WebSocket (undici) takes headers in its second argument; the types here are the Workers ones.
  const ws = new WebSocket(wsUrl.toString(), { headers } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  return new Promise((resolve) => {
    ws.addEventListener("open", () => resolve(ws), { once: true });
    ws.addEventListener("error", () => resolve("upgrade failed (refused, or no server)"), { once: true });
  });
}

/** One connection's socket, watched: conformance, the close, and a way to wait for either. */
class Watched {
  readonly checker: ConformanceChecker;
  closeEvent: { code: number; reason: string } | null = null;
  weClosed = false;
  private wake: (() => void) | null = null;

  constructor(
    readonly ws: WebSocket,
    readonly sessionId: string,
  ) {
    this.checker = new ConformanceChecker(sessionId);
    ws.addEventListener("message", (event) => {
      if (typeof event.data === "string") this.checker.text(event.data);
      else this.checker.binary();
      this.wake?.();
    });
    ws.addEventListener("close", (event) => {
      this.closeEvent = { code: event.code, reason: event.reason };
      this.wake?.();
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Waits until `done()` holds or the socket closes; false on timeout. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && this.closeEvent === null) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  send(data: string | Uint8Array): void {
    if (this.open) this.ws.send(data);
  }

  close(): void {
    this.weClosed = true;
    if (this.open) this.ws.close(1000, "fuzz done");
  }

  /** The socket closed on the server's side the way a failure does (no close frame, or an internal error). */
  crashed(): string | null {
    if (this.weClosed || this.closeEvent === null) return null;
    const { code, reason } = this.closeEvent;
    return code === 1006 || code === 1011 ? `socket closed ${code} ${reason}`.trim() : null;
  }
}

/** Bytes of one 20 ms frame for the negotiated media. */
function frameBytes(opened: Record<string, unknown> | undefined): number {
  const media = (opened?.media as { format?: string; channels?: unknown[] }[] | undefined)?.[0];
  const channels = media?.channels?.length ?? 2;
  return 160 * channels * (media?.format === "L16" ? 2 : 1);
}

async function fuzzConnection(dice: Dice): Promise<void> {
  const sessionId = crypto.randomUUID();
  const socket = await connect(sessionId);
  totals.connections += 1;
  if (typeof socket === "string") {
    finding("crash", sessionId, socket);
    return;
  }
  const conn = new Watched(socket, sessionId);
  const cursor: ClientCursor = { sessionId, seq: 0, serverseq: 0, position: 0 };
  const sendText = (message: Record<string, unknown>, mutated: boolean): void => {
    cursor.serverseq = conn.checker.lastServerSeq;
    const text = mutated ? mutate(message, dice) : JSON.stringify(message);
    conn.checker.clientSent(message.seq);
    // A mutation may have changed seq: the server may legitimately echo that one.
    if (mutated) conn.checker.clientSent(parseSeq(text));
    conn.send(text);
    totals.messages += 1;
    if (mutated) totals.mutated += 1;
  };

  // Most connections stay good for a while before the first mutation, so the open call's states (paused,
  // discarded, close while audio flows...) get hostile input too, not just the first message.
  const mutationRate = dice.pick([0.02, 0.1, 0.3]);
  // A real client closes once disconnected; a hostile one keeps talking. Some of each.
  const persists = dice.chance(0.3);
  sendText(goodMessage("open", cursor, dice), dice.chance(0.1));
  const steps = 1 + dice.int(MAX_PER_CONNECTION);
  for (let i = 0; i < steps && conn.open && totals.mutated < COUNT; i++) {
    if (conn.checker.sawDisconnect && !persists) break;
    const roll = dice.random();
    const mutated = dice.chance(mutationRate);
    if (roll < 0.5) {
      const opened = conn.checker.received.find((m) => m.type === "opened")?.parameters;
      const good = !mutated;
      const frame = good ? new Uint8Array(frameBytes(opened)).fill(0x7f) : audioFrame(dice);
      conn.send(frame);
      totals.frames += 1;
      if (good) cursor.position += 0.02;
      else totals.mutated += 1;
    } else {
      const message = goodMessage(randomType(dice), cursor, dice);
      sendText(message, mutated);
    }
    // Let replies in between (and keep one connection from hogging the event loop).
    if (dice.chance(0.3)) await sleep(dice.int(20));
  }

  // End as a client does: close (after a disconnect too), then expect closed or the socket closing.
  if (conn.open && !conn.checker.sawClosed) {
    await sleep(50);
    sendText(goodMessage("close", cursor, dice), false);
  }
  const closing = Date.now();
  const disconnectedBefore = conn.checker.sawDisconnect;
  let ended = await conn.until(
    () => conn.checker.sawClosed || conn.checker.sawDisconnect !== disconnectedBefore,
    HANG_MS,
  );
  if (ended && !conn.checker.sawClosed && conn.open) {
    // Our close itself was refused (its position, say): the disconnect asks for a close, so send one.
    sendText(goodMessage("close", cursor, dice), false);
    ended = await conn.until(() => conn.checker.sawClosed, HANG_MS);
  }
  if (Date.now() - closing > totals.slowestCloseMs) {
    totals.slowestCloseMs = Date.now() - closing;
    totals.slowestCloseSession = sessionId;
  }
  if (!ended) finding("hang", sessionId, `no closed and no close ${HANG_MS} ms after close`);
  if (conn.checker.sawDisconnect) totals.disconnects += 1;
  const crash = conn.crashed();
  if (crash) finding("crash", sessionId, crash);
  report(sessionId, conn.checker.violations);
  conn.close();
}

function parseSeq(text: string): unknown {
  try {
    return (JSON.parse(text) as { seq?: unknown }).seq;
  } catch {
    return undefined;
  }
}

function report(sessionId: string, violations: readonly Violation[]): void {
  for (const v of violations) finding("violation", sessionId, `${v.rule}: ${v.detail}`);
}

/** A well-behaved call beside the fuzzing: it must go through untouched and lose no audio. */
async function goodCall(): Promise<void> {
  const sessionId = crypto.randomUUID();
  const socket = await connect(sessionId);
  totals.goodCalls += 1;
  if (typeof socket === "string") {
    finding("good-call", sessionId, socket);
    return;
  }
  const conn = new Watched(socket, sessionId);
  const dice = new Dice(rng(1));
  const cursor: ClientCursor = { sessionId, seq: 0, serverseq: 0, position: 0 };
  const send = (type: string, parameters?: Record<string, unknown>) => {
    cursor.serverseq = conn.checker.lastServerSeq;
    const message = goodMessage(type, cursor, dice, parameters);
    conn.checker.clientSent(message.seq);
    conn.send(JSON.stringify(message));
  };
  send("open", {
    organizationId: ORG_ID,
    conversationId: crypto.randomUUID(),
    participant: { id: crypto.randomUUID() },
    media: [{ type: "audio", format: "PCMU", channels: ["external", "internal"], rate: 8000 }],
    language: "en-US",
  });
  if (!(await conn.until(() => conn.checker.received.some((m) => m.type === "opened"), HANG_MS))) {
    finding("good-call", sessionId, "no opened");
    conn.close();
    return;
  }
  // Real time, 20 ms stereo PCMU frames (a loud square wave for 600 ms of each second, then silence),
  // a ping a second.
  const frames = GOOD_CALL_SECONDS * 50;
  const started = Date.now();
  let pings = 0;
  for (let i = 0; i < frames && conn.open; i++) {
    const frame = new Uint8Array(320);
    for (let s = 0; s < 320; s++) {
      const t = i * 160 + (s >> 1);
      // µ-law 0xff and 0x7f are zero; 0x80 and 0x00 the loudest of each sign.
      frame[s] = t % 8000 < 4800 ? (t % 40 < 20 ? 0x80 : 0x00) : 0xff;
    }
    conn.send(frame);
    cursor.position += 0.02;
    if (i % 50 === 49) {
      send("ping");
      pings += 1;
    }
    await sleep(Math.max(0, started + (i + 1) * 20 - Date.now()));
  }
  send("close", { reason: "end" });
  const closed = await conn.until(() => conn.checker.sawClosed, HANG_MS);
  const pongs = conn.checker.received.filter((m) => m.type === "pong").length;
  if (!closed) finding("good-call", sessionId, "no closed after close");
  if (conn.checker.sawDisconnect) finding("good-call", sessionId, "the good call was disconnected");
  if (pongs !== pings) finding("good-call", sessionId, `${pings} pings, ${pongs} pongs`);
  report(sessionId, conn.checker.violations);
  conn.close();
  await checkDelivery(sessionId, frames * 160);
}

/** Polls the development transcriber until it has every sample of the call on both channels. */
async function checkDelivery(sessionId: string, samplesPerChannel: number): Promise<void> {
  type Stats = {
    sessions: Record<
      string,
      { channels: Record<string, { samples: number; gaps: number; lostChunks: number }> }
    >;
  };
  // Delivery goes on after `closed` (the outbox drains), so wait for it.
  const deadline = Date.now() + 30_000;
  let last = "no stats";
  let received = 0;
  while (Date.now() < deadline) {
    try {
      const stats = (await (await fetch(new URL("/dev/stats", transcriber))).json()) as Stats;
      const channels = Object.values(stats.sessions[sessionId]?.channels ?? {});
      received = channels.reduce((n, c) => n + Math.min(c.samples, samplesPerChannel), 0);
      const gaps = channels.reduce((n, c) => n + c.gaps + c.lostChunks, 0);
      last = `${channels.map((c) => c.samples).join("/") || "no"} samples of ${samplesPerChannel} per channel, ${gaps} gaps`;
      if (gaps > 0) break;
      if (channels.length === 2 && channels.every((c) => c.samples === samplesPerChannel)) return;
    } catch (err) {
      last = `transcriber stats unavailable at ${transcriber.origin}: ${String(err)}`;
    }
    await sleep(500);
  }
  totals.goodCallLostSamples += 2 * samplesPerChannel - received;
  finding("good-call", sessionId, `delivery incomplete: ${last}`);
}

async function healthy(): Promise<boolean> {
  try {
    return (await fetch(new URL("/healthz", base))).ok;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  if (!(await healthy())) usage(`no worker answers ${new URL("/healthz", base)}: start it with npm run dev`);
  console.error(
    `fuzz: ${COUNT} mutated messages at ${wsUrl}, ${CONCURRENCY} connections at a time, seed ${SEED}`,
  );
  const started = Date.now();
  let fuzzing = true;
  const good = (async () => {
    while (fuzzing) await goodCall();
  })();
  let lastProgress = 0;
  const workers = Array.from({ length: CONCURRENCY }, async (_, w) => {
    const mine = new Dice(rng(SEED + w + 1));
    while (totals.mutated < COUNT) {
      await fuzzConnection(mine);
      if (totals.mutated - lastProgress >= 2000) {
        lastProgress = totals.mutated;
        console.error(`fuzz: ${totals.mutated} mutated, ${totals.connections} connections`);
      }
    }
  });
  await Promise.all(workers);
  fuzzing = false;
  await good;
  if (!(await healthy())) finding("crash", "-", "/healthz no longer answers after the run");
  const summary = { ...totals, seed: SEED, seconds: Math.round((Date.now() - started) / 1000), findings };
  console.log(JSON.stringify(summary, null, 2));
  const bad =
    totals.crashes + totals.hangs + totals.violations + totals.goodCallFailures + totals.goodCallLostSamples;
  console.error(
    `fuzz: ${totals.messages} messages (${totals.mutated} mutated) and ${totals.frames} frames over ${totals.connections} connections; ` +
      `crashes ${totals.crashes}, hangs ${totals.hangs}, protocol violations ${totals.violations}, ` +
      `good calls ${totals.goodCalls} (failures ${totals.goodCallFailures}, samples lost ${totals.goodCallLostSamples})`,
  );
  process.exit(bad === 0 ? 0 : 1);
}

await main();
