// One call, one Durable Object: a thin shell that wires the hibernatable WebSocket, SQLite storage and
// alarms to the pure protocol machines (audiohook/session.ts, mediaapi/stream.ts) and the pipeline
// that forwards the audio and brings transcripts back.

import { DurableObject } from "cloudflare:workers";
import { parseClientMessage } from "../audiohook/messages";
import {
  acknowledgeClose,
  disconnect,
  type Effect,
  initialState,
  onAudio,
  onInvalidMessage,
  onMessage,
  type ProtocolLimits,
  type SessionState,
  sendEvent,
  type Transition,
} from "../audiohook/session";
import { TOKEN_BROKER_NAME } from "../auth/TokenBroker";
import { type Config, loadConfig } from "../config";
import { bundledTextIdentifier, createAcousticDetector } from "../detect/index";
import type { ForwardError } from "../forward/retry";
import type { TranscriptResult } from "../gen/langhook/transcription/v1/transcription_pb";
import { createLogger, type Logger } from "../log";
import { SUPPORTED_RATE } from "../media/format";
import { transcriptEntity, transcriptFrame } from "../transcripts/events";
import { CallToken } from "./call-token";
import { ForwardingPipeline } from "./forwarding";
import { CALL_HEADER, type CallHandoff, mediaApiSessionId } from "./handoff";
import { MediaApiConnection } from "./media-api-connection";
import { type CallPipeline, MeteringPipeline } from "./pipeline";
import { trySend } from "./socket";

/** Text frames are at most 64 KiB in AudioHook. */
export const MAX_TEXT_BYTES = 64 * 1024;
/** Storage is kept this long after a call ends, so a replayed upgrade still finds its nonce. */
const RETENTION_MS = 5 * 60 * 1000;
/** Undelivered audio of an ended call is retried this long before it is given up (and logged). */
const GIVE_UP_AFTER_MS = 15 * 60 * 1000;

interface Timers {
  closeAt: number | null;
  closeCode: number;
  closeReason: string;
  purgeAt: number | null;
  retryAt: number | null;
}

/** The disconnect `info` for each reason delivery stopped: says what to fix, names no internals. */
const FORWARD_FAILURE_INFO: Record<string, string> = {
  ERR_TRANSCRIBER_UNAUTHENTICATED: "transcription service rejected our credentials (UNAUTHENTICATED)",
  ERR_TRANSCRIBER_PERMISSION_DENIED: "transcription service denied access (PERMISSION_DENIED)",
  ERR_TRANSCRIBER_INVALID_ARGUMENT: "transcription service refused the audio (INVALID_ARGUMENT)",
  ERR_TRANSCRIBER_REJECTED: "transcription service refused the call",
  ERR_TRANSCRIBER_UNAVAILABLE: "transcription service unreachable",
  ERR_OUTBOX_FULL: "transcription service is too far behind: buffered audio reached its limit",
};

export class CallSession extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private session: SessionState | null | undefined;
  private readonly mediaApi: MediaApiConnection;
  private readonly token: CallToken;
  private pipelineInstance: CallPipeline | null = null;
  private log: Logger = createLogger({});
  /** Messages are handled strictly one after another, even across awaits (flush). */
  private queue: Promise<void> = Promise.resolve();
  /** Transcript events go out in result order; `closed` waits for them. */
  private events: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);`);
    this.mediaApi = new MediaApiConnection({
      sql: this.sql,
      load: (key) => this.load(key),
      store: (key, value) => this.store(key, value),
      pipeline: () => this.pipeline,
      log: () => this.log,
    });
    this.token = new CallToken(() => env.TOKEN_BROKER.get(env.TOKEN_BROKER.idFromName(TOKEN_BROKER_NAME)), {
      load: (key) => this.load(key),
      store: (key, value) => this.store(key, value),
      remove: (key) => this.sql.exec("DELETE FROM kv WHERE key = ?", key),
    });
    const session = this.load<SessionState>("session");
    const mediaApi = this.mediaApi.record();
    if (session) this.log = this.loggerFor(session.sessionId, session.conversationId);
    if (mediaApi) {
      this.log = this.loggerFor(
        mediaApiSessionId(mediaApi.conversationId, mediaApi.participantId),
        mediaApi.conversationId,
      );
    }
    // A woken object with audio not yet acknowledged carries on delivering it.
    ctx.blockConcurrencyWhile(async () => {
      if (this.hasPipelineState() && this.pipeline instanceof ForwardingPipeline && this.pipeline.pending()) {
        if ((await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(Date.now() + 50);
      }
    });
  }

  private get config(): Config {
    const loaded = loadConfig(this.env);
    if (!loaded.ok) throw new Error(`configuration invalid: ${loaded.error}`);
    return loaded.config;
  }

  private loggerFor(sessionId: string, conversationId: string | null): Logger {
    return createLogger({ sessionId, conversationId: conversationId ?? undefined }, this.config.logLevel);
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

  private hasPipelineState(): boolean {
    return this.load("forward") !== null;
  }

  /** The downstream stages, built on first use (after a wake-up too) from configuration. */
  private get pipeline(): CallPipeline {
    if (this.pipelineInstance) return this.pipelineInstance;
    const c = this.config;
    if (!c.transcriptionUrl) {
      this.pipelineInstance = new MeteringPipeline();
      return this.pipelineInstance;
    }
    const channels = this.mediaApi.record() ? 1 : 2;
    this.pipelineInstance = new ForwardingPipeline(
      {
        sql: this.sql,
        load: (key) => this.load(key),
        store: (key, value) => this.store(key, value),
        fetch: (url, init) => fetch(url, init),
        token: () =>
          this.config.transcriptionOAuth ? this.token.get() : Promise.resolve({ ok: true, token: null }),
        invalidateToken: () => this.token.invalidate(),
        scheduleRetry: (at) => this.updateTimers({ retryAt: at }),
        results: (results) => this.deliver(results),
        fatal: (error) => this.forwardingFailed(error),
        log: this.log,
      },
      {
        baseUrl: c.transcriptionUrl,
        batchMs: c.batchMs,
        maxBufferedMs: c.outboxMaxSeconds * 1000,
        requestTimeoutMs: c.transcriptionTimeoutMs,
        flushTimeoutMs: c.closeFlushTimeoutMs,
        giveUpAfterMs: GIVE_UP_AFTER_MS,
        supportedLanguages: c.supportedLanguages,
        detector: (candidates) =>
          createAcousticDetector({ candidates, commitConfidence: c.acousticCommitConfidence }),
        text: bundledTextIdentifier(),
      },
      channels,
    );
    return this.pipelineInstance;
  }

  /** The upgrade, already authenticated by the worker. */
  override async fetch(request: Request): Promise<Response> {
    const raw = request.headers.get(CALL_HEADER);
    if (!raw || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected an authenticated WebSocket upgrade\n", { status: 400 });
    }
    const handoff = JSON.parse(raw) as CallHandoff;
    if (handoff.protocol === "audiohook" && handoff.nonce) {
      this.sql.exec("DELETE FROM nonces WHERE expires_at < ?", Math.floor(Date.now() / 1000));
      const seen =
        this.sql.exec("SELECT 1 FROM nonces WHERE nonce = ?", handoff.nonce.value).toArray().length > 0;
      if (seen) return new Response("replayed signature\n", { status: 401 });
      this.sql.exec(
        "INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)",
        handoff.nonce.value,
        handoff.nonce.expiresAt,
      );
    }
    if (this.state || this.mediaApi.record()) {
      // Genesys opens a new session id for every connection (reconnects included): a second one is a client bug.
      return new Response("this session id was already used\n", { status: 409 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    if (handoff.protocol === "media-api") {
      const sessionId = mediaApiSessionId(handoff.conversationId, handoff.participantId);
      this.log = this.loggerFor(sessionId, handoff.conversationId);
      this.log.log("info", "connected", { protocol: "media-api", participantId: handoff.participantId });
      this.mediaApi.accept(handoff);
      return new Response(null, {
        status: 101,
        webSocket: client,
        headers: { "sec-websocket-protocol": "media-api" },
      });
    }

    const session = initialState(handoff);
    this.session = session;
    this.store("session", session);
    this.log = this.loggerFor(session.sessionId, null);
    this.log.log("info", "connected", { endpoint: handoff.endpoint, correlationId: handoff.correlationId });
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.queue = this.queue
      .then(() =>
        this.mediaApi.record() ? this.mediaApi.message(ws, message) : this.handleAudioHook(ws, message),
      )
      .catch((err: unknown) => this.fail(ws, err));
    return this.queue;
  }

  // ---- AudioHook --------------------------------------------------------------------------------

  private async handleAudioHook(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
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
        this.log = this.loggerFor(effect.call.sessionId, effect.call.conversationId);
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
        await this.events;
        return;
      case "acknowledge-close":
        await this.apply(ws, acknowledgeClose(this.state as SessionState));
        return;
      case "cancel-close":
        await this.updateTimers({ closeAt: null });
        return;
      case "close-later":
        await this.updateTimers({
          closeAt: Date.now() + this.config.disconnectGraceMs,
          closeCode: effect.code,
          closeReason: effect.reason,
        });
        return;
      case "log":
        this.log.log(effect.level, effect.event, effect.fields);
        return;
    }
  }

  private socket(): WebSocket | undefined {
    return this.ctx.getWebSockets()[0];
  }

  /** Transcripts go back as AudioHook events on the Transcription Connector path only; Monitor only forwards. */
  private deliver(results: TranscriptResult[]): void {
    this.events = this.events.then(async () => {
      const ws = this.socket();
      const media = this.mediaApi.record();
      if (media) {
        for (const r of results)
          if (ws) trySend(ws, JSON.stringify(transcriptFrame(r, media.language ?? "und")));
        return;
      }
      const state = this.state;
      if (!ws || !state?.media || state.endpoint !== "transcription") return;
      for (const result of results) {
        const entity = await transcriptEntity(
          result,
          state.media.channels,
          state.sessionId,
          state.language ?? "und",
        );
        if (entity) await this.apply(ws, sendEvent(this.state as SessionState, [entity]));
      }
    });
    this.events.catch((err: unknown) => this.log.log("error", "event-failed", { error: String(err) }));
  }

  /** Delivery cannot go on: end the call with a reason the operator can act on. */
  private forwardingFailed(error: ForwardError): void {
    const info = FORWARD_FAILURE_INFO[error.code] ?? "transcription service error";
    const ws = this.socket();
    this.log.log("error", "call-ended-by-forwarding", { code: error.code });
    if (!ws) return;
    if (this.mediaApi.record()) {
      trySend(ws, JSON.stringify({ type: "error", code: error.code, reason: info }));
      ws.close(1011, info.slice(0, 120));
      return;
    }
    const state = this.state;
    if (state) void this.apply(ws, disconnect(state, "error", info)).catch(() => {});
  }

  // ---- tokens, timers, teardown -----------------------------------------------------------------

  private timers(): Timers {
    return {
      closeAt: null,
      closeCode: 1000,
      closeReason: "",
      purgeAt: null,
      retryAt: null,
      ...this.load<Timers>("timers"),
    };
  }

  private async updateTimers(change: Partial<Timers>): Promise<void> {
    const timers = { ...this.timers(), ...change };
    this.store("timers", timers);
    const next = [timers.closeAt, timers.purgeAt, timers.retryAt].filter((t): t is number => t !== null);
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  override async alarm(): Promise<void> {
    const timers = this.timers();
    const now = Date.now();
    if (timers.closeAt !== null && timers.closeAt <= now) {
      for (const ws of this.ctx.getWebSockets()) {
        try {
          ws.close(timers.closeCode, timers.closeReason);
        } catch {
          // Already closing.
        }
      }
      timers.closeAt = null;
      timers.purgeAt ??= now + RETENTION_MS;
    }
    const pipeline = this.hasPipelineState() ? this.pipeline : null;
    if (pipeline instanceof ForwardingPipeline && (timers.retryAt === null || timers.retryAt <= now)) {
      timers.retryAt = null;
      pipeline.resume();
    }
    const busy = pipeline instanceof ForwardingPipeline && pipeline.pending();
    if (timers.purgeAt !== null && timers.purgeAt <= now && this.ctx.getWebSockets().length === 0) {
      if (busy) {
        // Undelivered audio outlives the retention period: look again later rather than erase it.
        timers.purgeAt = now + RETENTION_MS;
      } else {
        this.log.log("info", "purged");
        await this.ctx.storage.deleteAll();
        this.mediaApi.forget();
        this.session = null;
        return;
      }
    }
    this.store("timers", timers);
    const next = [timers.closeAt, timers.purgeAt, timers.retryAt].filter((t): t is number => t !== null);
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.queue = this.queue.then(async () => {
      await this.mediaApi.closed();
      const state = this.state;
      if (state && state.phase !== "closed") {
        if (state.phase !== "disconnecting") {
          // The client went away without close: end utterances and hand on what we hold.
          this.log.log("warn", "socket-closed-early", {
            code,
            reason: reason.slice(0, 100),
            phase: state.phase,
          });
          if (state.phase === "open") this.pipeline.boundary("close", state.positionSamples);
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
      await this.updateTimers({ closeAt: null, purgeAt: Date.now() + RETENTION_MS });
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
    try {
      if (state) await this.apply(ws, disconnect(state, "error", "internal error"));
      else ws.close(1011, "internal error");
    } catch {
      ws.close(1011, "internal error");
    }
  }
}
