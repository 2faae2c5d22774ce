// Starts the development transcription server: Connect, gRPC and gRPC-web on one port, over HTTP/1.1 and
// h2c (prior knowledge) alike, with bidi streaming allowed over HTTP/1.1 (what a Worker's fetch needs).
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { join } from "node:path";
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { type Fault, FaultPlan, parseFault } from "./faults.js";
import { type Log, type ServiceState, transcriptionRoutes } from "./service.js";
import type { ChannelStats, DevSession } from "./session.js";
import { wavBytes } from "./wav.js";

export interface DevTranscriberOptions {
  /** Default 50051; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Write each ended session's audio, one WAV per channel, into this folder. */
  record?: string;
  /** Faults armed from the start; more can be added through `faults` or POST /dev/faults. */
  faults?: Fault[];
  /** Report this language for every session instead of the audio's tags. */
  reportLanguage?: string;
  /** Require `Authorization: Bearer <token>`. */
  token?: string;
  /** Emit interim results every this many ms of speech (default 0: finals only). */
  interimMs?: number;
  /** VAD tuning (defaults: -40 dBFS, 300 ms hangover, 100 ms minimum). */
  vad?: { thresholdDbfs?: number; hangoverMs?: number; minSpeechMs?: number };
  /** Where JSON log lines go: stdout (default), nowhere, or a function (tests). */
  log?: "stdout" | "silent" | ((line: Record<string, unknown>) => void);
  /** How long an ended session is remembered (so a retried FlushSession still answers); default 300 s. */
  endedSessionTtlMs?: number;
}

export interface DevTranscriberStats {
  calls: Record<string, number>;
  /** Calls by wire protocol: connect, grpc, grpc-web. */
  protocols: Record<string, number>;
  faultsInjected: number;
  chunks: number;
  duplicates: number;
  gaps: number;
  lostChunks: number;
  results: number;
  sessions: Record<
    string,
    { ended: boolean; results: number; continues: string[]; channels: Record<string, ChannelStats> }
  >;
}

export interface DevTranscriber {
  /** e.g. http://127.0.0.1:50051 */
  url: string;
  port: number;
  close(): Promise<void>;
  stats(): DevTranscriberStats;
  faults: FaultPlan;
  /** Report `language` for this session (undefined: back to the audio's tags). */
  setReportLanguage(sessionId: string, language: string | undefined): void;
}

export async function startDevTranscriber(options: DevTranscriberOptions = {}): Promise<DevTranscriber> {
  const log = makeLog(options.log ?? "stdout");
  const faults = new FaultPlan(options.faults);
  const timers = new Set<NodeJS.Timeout>();
  const state: ServiceState = {
    sessions: new Map(),
    faults,
    log,
    sessionOptions: {
      reportLanguage: options.reportLanguage,
      interimMs: options.interimMs,
      record: options.record !== undefined,
      vad: options.vad,
    },
    languageOverrides: new Map(),
    calls: {},
    protocols: {},
    token: options.token,
    onSessionEnd: (session) => {
      log("session-end", {
        session: session.id,
        results: session.resultCount,
        channels: session.channelStats(),
      });
      void record(session);
      const timer = setTimeout(() => {
        timers.delete(timer);
        state.sessions.delete(session.id);
      }, options.endedSessionTtlMs ?? 300_000);
      timer.unref();
      timers.add(timer);
    },
  };

  async function record(session: DevSession): Promise<void> {
    if (options.record === undefined) return;
    try {
      await mkdir(options.record, { recursive: true });
      for (const r of session.recordings()) {
        const file = join(options.record, `${session.id.replace(/[^\w.-]/g, "_")}-${r.channel}.wav`);
        await writeFile(file, wavBytes(r.samples, r.sampleRate));
        log("recorded", { session: session.id, file, seconds: r.samples.length / r.sampleRate });
      }
    } catch (err) {
      log("record-failed", { session: session.id, error: String(err) });
    }
  }

  const stats = (): DevTranscriberStats => {
    const out: DevTranscriberStats = {
      calls: { ...state.calls },
      protocols: { ...state.protocols },
      faultsInjected: faults.injected,
      chunks: 0,
      duplicates: 0,
      gaps: 0,
      lostChunks: 0,
      results: 0,
      sessions: {},
    };
    for (const [id, s] of state.sessions) {
      const channels = s.channelStats();
      out.sessions[id] = { ended: s.ended, results: s.resultCount, continues: s.continues, channels };
      out.results += s.resultCount;
      for (const c of Object.values(channels)) {
        out.chunks += c.chunks;
        out.duplicates += c.duplicates;
        out.gaps += c.gaps;
        out.lostChunks += c.lostChunks;
      }
    }
    return out;
  };

  const setReportLanguage = (sessionId: string, language: string | undefined) => {
    if (language === undefined) state.languageOverrides.delete(sessionId);
    else state.languageOverrides.set(sessionId, language);
    const session = state.sessions.get(sessionId);
    if (session !== undefined) session.reportLanguage = language ?? options.reportLanguage;
  };

  const connectHandler = nodeHandler(transcriptionRoutes(state), log);
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: NodeResponse) => {
    if ((req.url ?? "").startsWith("/dev/")) {
      control(req, res, { stats, faults, setReportLanguage, log }).catch((err) =>
        log("control-failed", { error: String(err) }),
      );
      return;
    }
    connectHandler(req, res);
  };

  const h1 = http.createServer(handler);
  const h2 = http2.createServer(handler);
  const sockets = new Set<net.Socket>();
  // One port for both: an h2c client opens with the HTTP/2 preface ("PRI * HTTP/2.0..."), anything else
  // is HTTP/1.1. The bytes read to decide are put back before the chosen server sees the socket.
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("readable", () => {
      const head: Buffer | null = socket.read();
      if (head === null) return;
      socket.unshift(head);
      (head.subarray(0, 3).toString("latin1") === "PRI" ? h2 : h1).emit("connection", socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 50051, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log("listening", { url, h2c: true, http1: true, token: options.token !== undefined });

  return {
    url,
    port: address.port,
    stats,
    faults,
    setReportLanguage,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      for (const session of state.sessions.values()) if (!session.ended) await record(session);
    },
  };
}

type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

// connect-node's connectNodeAdapter, with two changes for full duplex over HTTP/1.1: bidi calls on
// HTTP/1.1 are not answered 505 (connect refuses them because most HTTP/1.1 clients cannot stream both
// ways; workerd's fetch can), and streaming responses send their headers at once instead of with the
// first message, so a client waiting for the response does not wait for the first transcript.
function nodeHandler(routes: ReturnType<typeof transcriptionRoutes>, log: Log) {
  const router = createConnectRouter({ connect: true, grpc: true, grpcWeb: true });
  routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req: http.IncomingMessage | http2.Http2ServerRequest, res: NodeResponse) => {
    const uHandler = paths.get((req.url ?? "").split("?", 2)[0] ?? "");
    if (uHandler === undefined) {
      respond(res, 404);
      return;
    }
    const kind = uHandler.method.methodKind;
    const h1Duplex = kind === "bidi_streaming" && req.httpVersion.startsWith("1.");
    let uReq = universalRequestFromNodeRequest(req, res, undefined, undefined);
    if (h1Duplex) uReq = { ...uReq, httpVersion: "2.0" };
    uHandler(uReq)
      .then((uRes) => {
        let out: UniversalServerResponse = uRes;
        if (h1Duplex) {
          // Without it connect-node drains the request body before answering: a deadlock in full duplex.
          const header = new Headers(uRes.header);
          header.set("Connection", "close");
          out = { ...out, header };
        }
        if ((kind === "bidi_streaming" || kind === "server_streaming") && out.body !== undefined) {
          out = { ...out, body: headFirst(out.body) };
        }
        return universalResponseToNodeResponse(out, res);
      })
      .catch((reason) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        log("handler-failed", { method: uHandler.method.name, error: String(reason) });
      });
  };
}

async function* headFirst(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield new Uint8Array(0);
  yield* body;
}

async function control(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: NodeResponse,
  api: {
    stats: () => DevTranscriberStats;
    faults: FaultPlan;
    setReportLanguage: DevTranscriber["setReportLanguage"];
    log: Log;
  },
): Promise<void> {
  const send = (status: number, body?: unknown) =>
    respond(res, status, body === undefined ? undefined : JSON.stringify(body));
  let text = "";
  for await (const part of req) text += String(part);
  try {
    const path = (req.url ?? "").split("?", 2)[0];
    const body: unknown = text === "" ? {} : JSON.parse(text);
    if (path === "/dev/stats" && req.method === "GET") return send(200, api.stats());
    if (path === "/dev/faults" && req.method === "POST") {
      api.faults.add(parseFault(body));
      api.log("fault-armed", { fault: body });
      return send(204);
    }
    if (path === "/dev/faults" && req.method === "DELETE") {
      api.faults.clear();
      return send(204);
    }
    if (path === "/dev/report-language" && req.method === "POST") {
      const b = body as { sessionId?: unknown; language?: unknown };
      if (typeof b.sessionId !== "string") return send(400, { error: "sessionId is required" });
      api.setReportLanguage(b.sessionId, typeof b.language === "string" ? b.language : undefined);
      return send(204);
    }
    send(404, { error: "unknown control endpoint" });
  } catch (err) {
    send(400, { error: String(err instanceof Error ? err.message : err) });
  }
}

// The two response types' methods do not unify: narrow first.
function respond(res: NodeResponse, status: number, json?: string): void {
  const headers = json === undefined ? {} : { "content-type": "application/json" };
  if (res instanceof http.ServerResponse) {
    res.writeHead(status, headers);
    if (json === undefined) res.end();
    else res.end(json);
  } else {
    res.writeHead(status, headers);
    if (json === undefined) res.end();
    else res.end(json);
  }
}

function makeLog(target: NonNullable<DevTranscriberOptions["log"]>): Log {
  if (target === "silent") return () => {};
  const write =
    target === "stdout"
      ? (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`)
      : target;
  return (event, fields) => write({ time: new Date().toISOString(), event, ...fields });
}
