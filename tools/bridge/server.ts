// The bridge: serves langhook's contract (Connect, gRPC and gRPC-web over HTTP/1.1 and HTTP/2, plain or TLS)
// and forwards each call channel to a seed-contract service (transcription.TranscriptionService/StreamAudio)
// over native gRPC on HTTP/2. The Worker stays on its own contract; other contracts are adapted here.
import { readFile } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  type HandlerContext,
} from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import {
  type AudioChunk,
  Channel,
  FlushSessionResponseSchema,
  PushAudioResponseSchema,
  TranscriptionService,
  type TranscriptResult,
} from "../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { TranscriptionService as SeedService } from "../../src/gen/seed/transcription_pb.js";
import type { BridgeConfig } from "./config.js";
import { type BridgeChannel, ChunkError, channelOf } from "./mapping.js";
import { PushQueue } from "./queue.js";
import { BridgeSession } from "./session.js";
import type { Log } from "./upstream.js";

export interface Bridge {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  stats(): BridgeStats;
  /**
   * For a shutdown: stops taking connections and waits up to `ms` for the service to acknowledge what every
   * session holds (with --ack received, the only copy of audio langhook already let go of).
   */
  drain(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface BridgeStats {
  sessions: Record<string, { ended: boolean; channels: ReturnType<BridgeSession["stats"]> }>;
}

export async function startBridge(config: BridgeConfig, log: Log = jsonLog()): Promise<Bridge> {
  const upstreamCa = config.upstreamCaFile === undefined ? undefined : await readFile(config.upstreamCaFile);
  const upstreamHeaders = config.upstreamAuthorization;
  const seed = createClient(
    SeedService,
    createGrpcTransport({
      baseUrl: config.upstreamUrl,
      // Native gRPC on HTTP/2 (connect-node's gRPC transport has no other): h2c for http://, TLS for https://.
      nodeOptions: upstreamCa === undefined ? {} : { ca: upstreamCa },
      // Keep a long-lived call's connection checked: a silently dead peer fails within ~25 s.
      pingIntervalMs: 15_000,
      pingTimeoutMs: 10_000,
      interceptors:
        upstreamHeaders === undefined
          ? []
          : [
              (next) => (req) => {
                req.header.set("authorization", upstreamHeaders);
                return next(req);
              },
            ],
    }),
  );
  const sessions = new Map<string, BridgeSession>();
  const sessionOf = (id: string): BridgeSession => {
    if (id === "") throw new ConnectError("session_id is required", Code.InvalidArgument);
    let session = sessions.get(id);
    if (session === undefined) {
      session = new BridgeSession(id, {
        client: seed,
        naming: { agent: config.agentParticipantId },
        ackMode: config.ackMode,
        maxHeldSeconds: config.maxHeldSeconds,
        retry: { baseDelayMs: config.retryBaseMs, maxDelayMs: config.retryMaxMs, maxServerDelayMs: 30_000 },
        log,
      });
      sessions.set(id, session);
      log("session-start", { session: id });
    }
    return session;
  };

  const authorize = (ctx: HandlerContext) => {
    if (config.token === undefined) return;
    if (ctx.requestHeader.get("authorization") !== `Bearer ${config.token}`) {
      throw new ConnectError("missing or wrong bearer token", Code.Unauthenticated);
    }
  };

  const routes = (router: ConnectRouter) =>
    router.service(TranscriptionService, {
      async pushAudio(req, ctx) {
        authorize(ctx);
        const session = sessionOf(req.sessionId);
        if (session.ended)
          throw new ConnectError(`session ${req.sessionId} has ended`, Code.FailedPrecondition);
        guard(() => session.accept(req.chunks));
        await session.settle(req.chunks, config.ackWaitMs);
        if (req.endOfUtterance) session.endUtterance(channelsOf(req.chunks));
        return create(PushAudioResponseSchema, {
          acks: session.acks(),
          results: session.resultsAfter(Number(req.lastResultSequenceNumber)),
        });
      },
      async flushSession(req, ctx) {
        authorize(ctx);
        const session = sessions.get(req.sessionId);
        // Unknown (never seen, or forgotten after it ended): nothing is held for it, nothing to return.
        if (session === undefined) return create(FlushSessionResponseSchema, {});
        if (!session.ended) await session.flush(config.flushWaitMs);
        if (req.endSession && !session.ended && session.flushed) {
          await session.end();
          log("session-end", { session: session.id, channels: session.stats() });
        }
        return create(FlushSessionResponseSchema, {
          acks: session.acks(),
          results: session.resultsAfter(Number(req.lastResultSequenceNumber)),
        });
      },
      async *streamAudio(requests, ctx) {
        authorize(ctx);
        // Results go out as they are made; the end of the request side flushes and ends the session.
        const out = new PushQueue<TranscriptResult>();
        let session: BridgeSession | undefined;
        let unsubscribe = () => {};
        const feed = (async () => {
          try {
            for await (const chunk of requests) {
              if (session === undefined) {
                session = sessionOf(chunk.sessionId);
                unsubscribe = session.subscribe((r) => out.push(r));
                for (const r of session.resultsAfter(0)) out.push(r);
              }
              guard(() => session?.accept([chunk]));
            }
            if (session !== undefined) {
              await session.flush(config.flushWaitMs);
              await session.end();
              log("session-end", { session: session.id, channels: session.stats() });
            }
          } finally {
            out.end();
          }
        })();
        try {
          yield* out;
          await feed;
        } finally {
          unsubscribe();
        }
      },
    });

  const adapter = connectNodeAdapter({
    routes,
    fallback: (req, res) => {
      if ((req.url ?? "").split("?")[0] === "/healthz") {
        const body = JSON.stringify({
          ok: true,
          upstream: config.upstreamUrl,
          sessions: [...sessions.values()].filter((s) => !s.ended).length,
        });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(body);
        return;
      }
      res.writeHead(404);
      res.end();
    },
  });

  // Ended sessions are kept a while so a repeated FlushSession still answers; idle ones are dropped.
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const [id, s] of sessions) {
        if (now - s.lastActive < config.sessionIdleMs) continue;
        sessions.delete(id);
        if (!s.ended) {
          log("session-expired", { session: id, channels: s.stats() });
          void s.end();
        }
      }
    },
    Math.min(config.sessionIdleMs, 30_000),
  );
  sweeper.unref();

  const sockets = new Set<net.Socket>();
  let server: net.Server;
  if (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
    // TLS: ALPN picks HTTP/2 or HTTP/1.1.
    server = http2.createSecureServer(
      { cert: await readFile(config.tlsCertFile), key: await readFile(config.tlsKeyFile), allowHTTP1: true },
      adapter,
    );
  } else {
    // Plain: HTTP/1.1 and h2c (prior knowledge) on one port, told apart by the HTTP/2 preface.
    const h1 = http.createServer(adapter);
    const h2 = http2.createServer(adapter);
    server = net.createServer((socket) => {
      socket.once("readable", () => {
        const head: Buffer | null = socket.read();
        if (head === null) return;
        socket.unshift(head);
        (head.subarray(0, 3).toString("latin1") === "PRI" ? h2 : h1).emit("connection", socket);
      });
    });
  }
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const scheme = config.tlsCertFile === undefined ? "http" : "https";
  const url = `${scheme}://${host}:${address.port}`;
  log("listening", {
    url,
    upstream: config.upstreamUrl,
    ackMode: config.ackMode,
    auth: config.token !== undefined,
  });

  return {
    url,
    port: address.port,
    stats: () => ({
      sessions: Object.fromEntries(
        [...sessions].map(([id, s]) => [id, { ended: s.ended, channels: s.stats() }]),
      ),
    }),
    async drain(ms) {
      server.close();
      const live = [...sessions.values()].filter((s) => !s.ended);
      log("draining", { sessions: live.length, waitMs: ms });
      await Promise.all(live.map((s) => s.flush(ms).catch(() => {})));
      log("drained", {
        unacknowledged: live.filter((s) => !s.flushed).map((s) => ({ session: s.id, channels: s.stats() })),
      });
    },
    async close() {
      clearInterval(sweeper);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await Promise.all([...sessions.values()].map((s) => s.end()));
      await closed;
    },
  };
}

function channelsOf(chunks: readonly AudioChunk[]): Set<BridgeChannel> {
  const out = new Set<BridgeChannel>();
  for (const c of chunks)
    if (c.channel === Channel.EXTERNAL || c.channel === Channel.INTERNAL) out.add(channelOf(c));
  return out;
}

/** A chunk the seed cannot carry is the caller's mistake: INVALID_ARGUMENT with the reason. */
function guard(work: () => void): void {
  try {
    work();
  } catch (err) {
    if (err instanceof ChunkError) throw new ConnectError(err.message, Code.InvalidArgument);
    throw err;
  }
}

/** One JSON line per event on stdout. */
export function jsonLog(write: (line: string) => void = (l) => process.stdout.write(l)): Log {
  return (event, fields) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
}
