// One call, one Durable Object: a thin shell that wires the hibernatable WebSocket, SQLite storage
// and alarms to the pure protocol machine (audiohook/session.ts) and the downstream pipeline.

import { DurableObject } from "cloudflare:workers";
import { parseClientMessage } from "../audiohook/messages";
import {
  disconnect,
  type Effect,
  initialState,
  onAudio,
  onInvalidMessage,
  onMessage,
  type ProtocolLimits,
  type SessionState,
  type Transition,
} from "../audiohook/session";
import { type Config, loadConfig } from "../config";
import { createLogger, type Logger } from "../log";
import { SUPPORTED_RATE } from "../media/format";
import { CALL_HEADER, type CallHandoff } from "./handoff";
import { type CallPipeline, MeteringPipeline } from "./pipeline";

/** Text frames are at most 64 KiB in AudioHook. */
export const MAX_TEXT_BYTES = 64 * 1024;
/** Storage is kept this long after a call ends, so a replayed upgrade still finds its nonce. */
const RETENTION_MS = 5 * 60 * 1000;

interface Timers {
  /** When to close the socket ourselves after disconnect/closed (epoch ms). */
  closeAt: number | null;
  closeCode: number;
  closeReason: string;
  /** When to erase this call's storage. */
  purgeAt: number | null;
}

export class CallSession extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private session: SessionState | null | undefined;
  private pipeline: CallPipeline = new MeteringPipeline();
  private log: Logger = createLogger({});
  /** Messages are handled strictly one after another, even across awaits (flush). */
  private queue: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);`);
    const session = this.load<SessionState>("session");
    if (session) this.log = this.loggerFor(session);
  }

  private get config(): Config {
    const loaded = loadConfig(this.env);
    if (!loaded.ok) throw new Error(`configuration invalid: ${loaded.error}`);
    return loaded.config;
  }

  private loggerFor(session: SessionState): Logger {
    return createLogger(
      { sessionId: session.sessionId, conversationId: session.conversationId ?? undefined },
      this.config.logLevel,
    );
  }

  private limits(): ProtocolLimits {
    const c = this.config;
    return {
      maxFrameSamples: Math.floor((c.maxFrameMs / 1000) * SUPPORTED_RATE),
      supportedLanguages: c.supportedLanguages,
    };
  }

  private load<T>(key: string): T | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : null;
  }

  private store(key: string, value: unknown): void {
    this.sql.exec("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", key, JSON.stringify(value));
  }

  private get state(): SessionState | null {
    if (this.session === undefined) this.session = this.load<SessionState>("session");
    return this.session;
  }

  /** The upgrade, already authenticated by the worker. */
  override async fetch(request: Request): Promise<Response> {
    const raw = request.headers.get(CALL_HEADER);
    if (!raw || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected an authenticated WebSocket upgrade\n", { status: 400 });
    }
    const handoff = JSON.parse(raw) as CallHandoff;
    const now = Date.now();
    if (handoff.nonce) {
      this.sql.exec("DELETE FROM nonces WHERE expires_at < ?", Math.floor(now / 1000));
      const seen =
        this.sql.exec("SELECT 1 FROM nonces WHERE nonce = ?", handoff.nonce.value).toArray().length > 0;
      if (seen) return new Response("replayed signature\n", { status: 401 });
      this.sql.exec(
        "INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)",
        handoff.nonce.value,
        handoff.nonce.expiresAt,
      );
    }
    if (this.state) {
      // Genesys opens a new session id for every connection (reconnects included): a second one is a client bug.
      return new Response("this AudioHook session id was already used\n", { status: 409 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const session = initialState(handoff);
    this.session = session;
    this.store("session", session);
    this.log = this.loggerFor(session);
    this.log.log("info", "connected", { endpoint: handoff.endpoint, correlationId: handoff.correlationId });
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.queue = this.queue.then(() => this.handle(ws, message)).catch((err: unknown) => this.fail(ws, err));
    return this.queue;
  }

  private async handle(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const state = this.state;
    if (!state) {
      ws.close(1011, "session state lost");
      return;
    }
    if (typeof message === "string") {
      const bytes = new TextEncoder().encode(message).length;
      if (bytes > MAX_TEXT_BYTES) {
        await this.apply(
          ws,
          disconnect(state, "error", `text message of ${bytes} bytes exceeds the 64 KiB limit`),
        );
        return;
      }
      const parsed = parseClientMessage(message);
      await this.apply(
        ws,
        parsed.ok ? onMessage(state, parsed.message, this.limits()) : onInvalidMessage(state, parsed.error),
      );
    } else {
      await this.apply(ws, onAudio(state, new Uint8Array(message), this.limits()));
    }
  }

  /** Persists the new state, then performs the effects in order. */
  private async apply(ws: WebSocket, transition: Transition): Promise<void> {
    this.session = transition.state;
    this.store("session", transition.state);
    for (const effect of transition.effects) await this.perform(ws, effect);
  }

  private async perform(ws: WebSocket, effect: Effect): Promise<void> {
    switch (effect.type) {
      case "send":
        trySend(ws, JSON.stringify(effect.message));
        return;
      case "start":
        this.log = this.loggerFor(this.state as SessionState);
        this.pipeline.start(effect.call);
        return;
      case "audio":
        this.pipeline.audio(effect.chunk);
        return;
      case "boundary":
        this.pipeline.boundary(effect.reason, effect.positionSamples);
        return;
      case "language":
        this.pipeline.language(effect.language);
        return;
      case "flush":
        await this.pipeline.flush();
        return;
      case "close-later":
        await this.scheduleClose(effect.code, effect.reason);
        return;
      case "log":
        this.log.log(effect.level, effect.event, effect.fields);
        return;
    }
  }

  private timers(): Timers {
    return this.load<Timers>("timers") ?? { closeAt: null, closeCode: 1000, closeReason: "", purgeAt: null };
  }

  private async setTimers(timers: Timers): Promise<void> {
    this.store("timers", timers);
    const next = [timers.closeAt, timers.purgeAt].filter((t): t is number => t !== null);
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  private async scheduleClose(code: number, reason: string): Promise<void> {
    const grace = this.config.disconnectGraceMs;
    await this.setTimers({
      ...this.timers(),
      closeAt: Date.now() + grace,
      closeCode: code,
      closeReason: reason,
    });
  }

  override async alarm(): Promise<void> {
    const timers = this.timers();
    const now = Date.now();
    if (timers.closeAt !== null && timers.closeAt <= now) {
      for (const ws of this.ctx.getWebSockets()) {
        try {
          ws.close(timers.closeCode, timers.closeReason);
        } catch {
          // Already closing: nothing to do.
        }
      }
      timers.closeAt = null;
      timers.purgeAt ??= now + RETENTION_MS;
    }
    if (timers.purgeAt !== null && timers.purgeAt <= now && this.ctx.getWebSockets().length === 0) {
      this.log.log("info", "purged");
      await this.ctx.storage.deleteAll();
      this.session = null;
      return;
    }
    await this.setTimers(timers);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const state = this.state;
    this.queue = this.queue.then(async () => {
      if (state && state.phase !== "closed") {
        if (state.phase !== "disconnecting") {
          // The client went away without close: end utterances and hand on what we hold.
          this.log.log("warn", "socket-closed-early", {
            code,
            reason: reason.slice(0, 100),
            phase: state.phase,
          });
          this.pipeline.boundary("close", state.positionSamples);
        }
        await this.pipeline.flush();
        this.session = { ...state, phase: "closed" };
        this.store("session", this.session);
      }
      this.log.log("info", "socket-closed", { code, ...this.pipeline.summary() });
      try {
        ws.close(1000, "closed");
      } catch {
        // The runtime may already have answered the close.
      }
      await this.setTimers({ ...this.timers(), closeAt: null, purgeAt: Date.now() + RETENTION_MS });
    });
    await this.queue;
  }

  override async webSocketError(_ws: WebSocket, error: unknown): Promise<void> {
    this.log.log("warn", "socket-error", { error: String(error).slice(0, 200) });
  }

  /** An unexpected failure ends only this call, with a disconnect that names no internals. */
  private async fail(ws: WebSocket, err: unknown): Promise<void> {
    this.log.log("error", "internal-error", { error: err instanceof Error ? err.message : String(err) });
    const state = this.state;
    if (!state) return;
    try {
      await this.apply(ws, disconnect(state, "error", "internal error"));
    } catch {
      ws.close(1011, "internal error");
    }
  }
}

/** A socket closing mid-send is not an error worth surfacing: the close handler deals with it. */
function trySend(ws: WebSocket, data: string): void {
  try {
    ws.send(data);
  } catch {
    // ignored: the peer is gone
  }
}
