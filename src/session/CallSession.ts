// One call, one Durable Object: a thin shell around the pure machines (audiohook/session.ts for the
// protocol, forward/forwarder.ts for delivery, mediaapi/ for the older protocol). Every input (a client
// message, an audio frame, a service answer, an alarm, a timer, the socket closing) goes through
// `dispatch`, synchronously: it is the only writer of the call's state, so no two inputs interleave.
//
// Memory first, durable where it matters: per-frame work touches memory only. The call record (one SQLite
// row) is written at every control message and at most once a second while audio flows (a pending timer
// keeps the object from hibernating before it is written); audio the service has not acknowledged within
// SPILL_AFTER_MS, or whenever delivery fails, is written to the outbox table until it is acknowledged.

import { DurableObject } from "cloudflare:workers";
import { parseClientMessage } from "../audiohook/messages";
import {
  acknowledgeClose,
  type CallStart,
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
import type { DecisionState } from "../detect/decision";
import { bundledTextIdentifier, createAcousticDetector } from "../detect/index";
import { createTranscriptionClient, type TranscriptionClient } from "../forward/client";
import { type ForwardEffect, Forwarder, type ForwarderSnapshot } from "../forward/forwarder";
import { ForwardError } from "../forward/retry";
import { serviceFetch } from "../forward/service-fetch";
import type {
  FlushSessionResponse,
  PushAudioResponse,
  TranscriptResult,
} from "../gen/langhook/transcription/v1/transcription_pb";
import { createLogger, type Logger } from "../log";
import { SUPPORTED_RATE } from "../media/format";
import { transcriptEntity, transcriptFrame } from "../transcripts/events";
import { CallToken } from "./call-token";
import { CALL_HEADER, type CallHandoff, mediaApiSessionId } from "./handoff";
import { MediaApiConnection, type MediaApiRecord, type MediaApiSink } from "./media-api-connection";
import { metricsBinding, writeCallMetrics } from "./metrics";
import { OrderedTasks } from "./ordered";
import { SpillStore } from "./outbox-store";
import { trySend } from "./socket";
import { CallStorage } from "./storage";
import type { CallSummary } from "./summary";
import { NO_TIMERS, nextDue, type Timers, takeDue } from "./timers";

/** Text frames are at most 64 KiB in AudioHook. */
export const MAX_TEXT_BYTES = 64 * 1024;
/** Storage is kept this long after a call ends, so a replayed upgrade still finds its nonce. */
const RETENTION_MS = 5 * 60 * 1000;
/** Undelivered audio of an ended call is retried this long before it is given up (and logged). */
const GIVE_UP_AFTER_MS = 15 * 60 * 1000;
/** While audio flows, the call record is written at most this often. */
export const PERSIST_EVERY_MS = 1000;
/**
 * A batch the service has not acknowledged this long after it could be sent (FORWARD_INTERVAL_MS after its
 * first frame arrived) is written down.
 */
export const SPILL_AFTER_MS = 500;
/** A live call checks this often that its socket still exists (a restart closes sockets silently). */
export const LIVENESS_MS = 60_000;
/** After a media-api stream's downstream session is ended, its storage waits this long before the purge. */
const FINISH_GRACE_MS = 30_000;
/** An upgraded socket that has not sent `open` by then is ended. */
export const OPEN_TIMEOUT_MS = 10_000;
/**
 * A batch the service answered for without acknowledging it is sent again after this long (a service may
 * acknowledge only at the end of an utterance: the bridge's strict mode; one that lost it says nothing).
 */
const RESEND_AFTER_MS = 10_000;
/** Batches per request at most: 1 s of stereo audio at 100 ms batches, more after an outage. */
const MAX_BATCHES_PER_REQUEST = 20;
/**
 * A continued session that has not answered by then is ignored: the new call waits for it inside
 * blockConcurrencyWhile, which resets the object after 30 s (two sessions naming each other wait on each other).
 */
const HANDOVER_TIMEOUT_MS = 5000;

/** The disconnect `info` for each reason delivery stopped: says what to fix, names no internals. */
const FORWARD_FAILURE_INFO: Record<string, string> = {
  ERR_TRANSCRIBER_UNAUTHENTICATED: "transcription service rejected our credentials (UNAUTHENTICATED)",
  ERR_TRANSCRIBER_PERMISSION_DENIED: "transcription service denied access (PERMISSION_DENIED)",
  ERR_TRANSCRIBER_INVALID_ARGUMENT: "transcription service refused the audio (INVALID_ARGUMENT)",
  ERR_TRANSCRIBER_REJECTED: "transcription service refused the call",
  ERR_TRANSCRIBER_UNAVAILABLE: "transcription service unreachable",
  ERR_OUTBOX_FULL: "transcription service is too far behind: buffered audio reached its limit",
  ERR_LOCAL_ENCODING: "internal error: audio could not be encoded for the transcription service",
};

/** Everything a call keeps across hibernation, eviction and restarts: one JSON row. */
interface CallRecord {
  session: SessionState | null;
  mediaApi: MediaApiRecord | null;
  forwarder: ForwarderSnapshot | null;
  timers: Timers;
  startedAt: number;
  /** Rows written by earlier incarnations of the object. */
  rowsWritten: number;
  summarized: boolean;
  /** Why the call is ending, once we know better than how its socket closed (disconnect, forwarding). */
  endReason?: string;
  /** Sessions this call continues (accepted `continuedSessions`). */
  continues?: string[];
}

type CallInput =
  | { type: "message"; ws: WebSocket; message: string | ArrayBuffer }
  | { type: "socket-closed"; ws: WebSocket; code: number; reason: string }
  | { type: "alarm" }
  | { type: "answered"; response: PushAudioResponse | FlushSessionResponse }
  | { type: "failed"; error: unknown }
  | { type: "token-refreshed" }
  | { type: "transcripts"; entities: unknown[] }
  | { type: "drained" }
  | { type: "flush-timeout" }
  | { type: "persist" }
  | { type: "continued"; answers: { id: string; answer: HandOver }[] }
  | { type: "continued-by"; successor: string };

/** What a continued session tells its successor. */
export type HandOver =
  | { ok: true; decisions: Record<string, DecisionState> | null }
  | { ok: false; reason: string };

export class CallSession extends DurableObject<Env> {
  private readonly storage: CallStorage;
  private readonly spills: SpillStore;
  private readonly mediaApi: MediaApiConnection;
  private readonly token: CallToken;
  private record: CallRecord | null;
  /** Rows written by earlier incarnations, as the record said when this one woke. */
  private rowsBefore: number;
  /** undefined: not built yet; null: nothing is forwarded (no TRANSCRIPTION_URL, or a probe). */
  private forwarderInstance: Forwarder | null | undefined;
  private client: TranscriptionClient | null = null;
  private log: Logger = createLogger({});
  /** Transcript events go out in result order; the close handshake waits for them. */
  private readonly events = new OrderedTasks((err) =>
    this.log.log("error", "event-failed", { error: String(err).slice(0, 200) }),
  );
  /** The rest of the close handshake (`acknowledge-close`), waiting for the downstream drain. */
  private afterDrain: Effect[] | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private persistTimer: ReturnType<typeof setTimeout> | null = null;
  private armedAlarm: number | null | undefined;
  private ignoring = false;
  /** The clock: tests move it forward to make timers due without waiting. */
  private now: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.storage = new CallStorage(ctx.storage.sql);
    this.spills = new SpillStore(this.storage);
    this.record = this.storage.loadState<CallRecord>();
    this.rowsBefore = this.record?.rowsWritten ?? 0;
    this.mediaApi = new MediaApiConnection(this.storage, this.record?.mediaApi ?? null);
    this.token = new CallToken(() => env.TOKEN_BROKER.get(env.TOKEN_BROKER.idFromName(TOKEN_BROKER_NAME)), {
      load: (key) => this.storage.get(key),
      store: (key, value) => this.storage.put(key, value),
      remove: (key) => this.storage.remove(key),
    });
    if (this.record) this.log = this.loggerFor(this.record);
    // A call woken after a restart: finish it if its socket is gone, else carry on delivering.
    ctx.blockConcurrencyWhile(async () => this.wake());
  }

  private get config(): Config {
    const loaded = loadConfig(this.env);
    if (!loaded.ok) throw new Error(`configuration invalid: ${loaded.error}`);
    return loaded.config;
  }

  private mediaApiName(media: MediaApiRecord): string {
    return media.conversationId && media.participantId
      ? mediaApiSessionId(media.conversationId, media.participantId, media.connectionId ?? undefined)
      : `media-api-connection:${media.connectionId}`;
  }

  private loggerFor(record: CallRecord): Logger {
    const media = record.mediaApi;
    const sessionId = media ? this.mediaApiName(media) : (record.session?.sessionId ?? "unknown");
    const conversationId = media?.conversationId ?? record.session?.conversationId ?? undefined;
    const continues = record.continues?.length ? record.continues : undefined;
    return createLogger({ sessionId, conversationId, continues }, this.config.logLevel);
  }

  private limits(): ProtocolLimits {
    const c = this.config;
    return {
      maxFrameSamples: Math.floor((c.maxFrameMs / 1000) * SUPPORTED_RATE),
      supportedLanguages: c.supportedLanguages,
    };
  }

  /** The forwarding stage, built on first use (after a wake-up too, from the record and the spilled audio). */
  private get forwarder(): Forwarder | null {
    if (this.forwarderInstance !== undefined) return this.forwarderInstance;
    const c = this.config;
    if (!c.transcriptionUrl || !this.record) return null;
    const saved = this.record.forwarder;
    this.forwarderInstance = new Forwarder(
      {
        batchMs: c.batchMs,
        sendIntervalMs: c.forwardIntervalMs,
        maxBufferedMs: c.outboxMaxSeconds * 1000,
        giveUpAfterMs: GIVE_UP_AFTER_MS,
        maxBatchesPerRequest: MAX_BATCHES_PER_REQUEST,
        resendAfterMs: RESEND_AFTER_MS,
        supportedLanguages: c.supportedLanguages,
        detector: c.acousticDetector
          ? (candidates) =>
              createAcousticDetector({ candidates, commitConfidence: c.acousticCommitConfidence })
          : null,
        text: bundledTextIdentifier(),
      },
      saved ? { snapshot: saved, spilled: this.spills.load() } : undefined,
    );
    return this.forwarderInstance;
  }

  private transcriptionClient(): TranscriptionClient {
    if (this.client) return this.client;
    const c = this.config;
    this.client = createTranscriptionClient({
      baseUrl: c.transcriptionUrl as string,
      fetch: serviceFetch(this.env),
      protocol: c.transcriptionProtocol,
      timeoutMs: c.transcriptionTimeoutMs,
      getToken: () => this.bearer(),
    });
    return this.client;
  }

  private async bearer(): Promise<string | undefined> {
    if (!this.config.transcriptionOAuth) return undefined;
    const answer = await this.token.get();
    if (answer.ok) return answer.token ?? undefined;
    throw new ForwardError(
      answer.retryable ? "ERR_TRANSCRIBER_UNAVAILABLE" : "ERR_TRANSCRIBER_UNAUTHENTICATED",
      `token endpoint: ${answer.message}`,
    );
  }

  private socket(): WebSocket | undefined {
    return this.ctx.getWebSockets()[0];
  }

  /** A call whose end we have not seen: its socket should exist. */
  private live(): boolean {
    const r = this.record;
    if (!r) return false;
    if (r.mediaApi) return !r.mediaApi.ended;
    return r.session !== null && r.session.phase !== "closed";
  }

  /**
   * A call whose socket's end we have not seen: live, or answered with `closed` but its socket not yet
   * closed (nothing has scheduled its purge). Without a socket, it must be finished here.
   */
  private endUnseen(): boolean {
    const r = this.record;
    if (!r) return false;
    return this.live() || (r.session?.phase === "closed" && r.timers.purgeAt === null);
  }

  private wake(): void {
    if (!this.record) return;
    if (this.endUnseen() && this.ctx.getWebSockets().length === 0) {
      this.guard(() => this.orphaned("woke without its socket"));
    } else if (this.forwarder?.pending && this.record.timers.retryAt === null) {
      this.record.timers.retryAt = this.now() + 50;
      this.persist();
    }
  }

  // ---- entry points: each becomes one input to dispatch ------------------------------------------

  /** The upgrade, already authenticated by the worker. */
  override async fetch(request: Request): Promise<Response> {
    const raw = request.headers.get(CALL_HEADER);
    if (!raw || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected an authenticated WebSocket upgrade\n", { status: 400 });
    }
    const handoff = JSON.parse(raw) as CallHandoff;
    const now = this.now();
    if (this.schemaGone) {
      this.storage.recreate();
      this.schemaGone = false;
    }
    if (handoff.protocol === "audiohook" && handoff.nonce) {
      if (!this.storage.rememberNonce(handoff.nonce.value, handoff.nonce.expiresAt, now))
        return new Response("replayed signature\n", { status: 401 });
    }
    if (handoff.protocol === "media-api" && this.record?.mediaApi && this.ctx.getWebSockets().length === 0) {
      if (this.mediaApi.reopen()) return this.reconnected(this.record, handoff.language, now);
    }
    if (this.record?.session || this.record?.mediaApi) {
      // Genesys opens a new session id for every connection (reconnects included): a second one is a
      // client bug; a media-api stream takes one connection at a time.
      return new Response("this session id was already used\n", { status: 409 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const record: CallRecord = {
      session: null,
      mediaApi: null,
      forwarder: null,
      timers: { ...NO_TIMERS, livenessAt: now + LIVENESS_MS },
      startedAt: now,
      rowsWritten: 0,
      summarized: false,
    };
    this.record = record;
    this.forwarderInstance = undefined;
    if (handoff.protocol === "media-api") {
      this.guard(() => this.mediaApi.accept(handoff, this.mediaApiSink(server)));
      record.mediaApi = this.mediaApi.record();
      this.log = this.loggerFor(record);
      this.log.log("info", "connected", { protocol: "media-api", participantId: handoff.participantId });
      this.persist();
      return new Response(null, {
        status: 101,
        webSocket: client,
        headers: { "sec-websocket-protocol": "media-api" },
      });
    }
    record.session = initialState(handoff);
    record.timers.openBy = now + OPEN_TIMEOUT_MS;
    this.log = this.loggerFor(record);
    this.log.log("info", "connected", { endpoint: handoff.endpoint, correlationId: handoff.correlationId });
    this.persist();
    return new Response(null, { status: 101, webSocket: client });
  }

  /** A media-api client came back for its stream: a new socket, the same stream and downstream session. */
  private reconnected(record: CallRecord, language: string | null, now: number): Response {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    record.mediaApi = this.mediaApi.record();
    record.summarized = false;
    record.startedAt = now;
    this.setTimer({ purgeAt: null, closeAt: null, livenessAt: now + LIVENESS_MS });
    this.log.log("info", "reconnected", {
      protocol: "media-api",
      connections: record.mediaApi?.connections,
      next: record.mediaApi?.checkpoint?.next,
      languageIgnored: language !== null && language !== record.mediaApi?.language ? language : undefined,
    });
    this.persist();
    // Delivery stopped for good on an earlier connection: this one is told at once, as that one was,
    // rather than having its audio taken and dropped.
    const stopped = this.forwarder?.stoppedWith;
    if (stopped) this.forwardingStopped(stopped);
    return new Response(null, {
      status: 101,
      webSocket: pair[0],
      headers: { "sec-websocket-protocol": "media-api" },
    });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    this.dispatch({ type: "message", ws, message });
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.dispatch({ type: "socket-closed", ws, code, reason });
  }

  override webSocketError(_ws: WebSocket, error: unknown): void {
    this.log.log("warn", "socket-error", { error: String(error).slice(0, 200) });
  }

  override async alarm(): Promise<void> {
    this.dispatch({ type: "alarm" });
    if (this.purgeDue) {
      this.purgeDue = false;
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.schemaGone = true;
    }
  }

  private purgeDue = false;
  /** `deleteAll` dropped the tables: a later call in this same object creates them again first. */
  private schemaGone = false;

  // ---- the one writer ----------------------------------------------------------------------------

  private dispatch(input: CallInput): void {
    this.guard(() => {
      switch (input.type) {
        case "message":
          return this.onClientMessage(input.ws, input.message);
        case "socket-closed":
          return this.onSocketClosed(input.ws, input.code, input.reason);
        case "alarm":
          return this.onAlarm();
        case "answered":
          this.runForward(this.forwarder?.answered(input.response, this.now()) ?? []);
          return this.markDirty();
        case "failed":
          this.runForward(this.forwarder?.failed(input.error, this.now()) ?? []);
          return this.persist();
        case "token-refreshed":
          this.runForward(this.forwarder?.tokenRefreshed(this.now()) ?? []);
          return;
        case "transcripts":
          return this.onTranscripts(input.entities);
        case "drained":
        case "flush-timeout":
          return this.onDrained(input.type === "flush-timeout");
        case "persist":
          this.persistTimer = null;
          // Audio held back for the send interval goes now if no frame came to send it.
          this.runForward(this.forwarder?.retryDue(this.now()) ?? []);
          return this.persist();
        case "continued":
          return this.onContinued(input.answers);
        case "continued-by": {
          // Its socket may still be open (the network dropped it without a close): it is over either way.
          this.closeSockets(1000, "continued by another session");
          return this.orphaned(`continued by ${input.successor}`);
        }
      }
    });
  }

  /** An unexpected failure ends only this call, with a disconnect that names no internals. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.log.log("error", "internal-error", { error: err instanceof Error ? err.message : String(err) });
      const ws = this.socket();
      const session = this.record?.session;
      try {
        // The client that sent close is owed closed, failure or not; any other call ends with a reason.
        if (ws && session?.phase === "closing") this.apply(ws, acknowledgeClose(session));
        else if (ws && session) this.apply(ws, disconnect(session, "error", "internal error"));
        else ws?.close(1011, "internal error");
        this.persist();
      } catch {
        ws?.close(1011, "internal error");
      }
    }
  }

  private onClientMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const record = this.record;
    if (record?.mediaApi) {
      const started = this.mediaApi.started;
      this.mediaApi.message(message, this.mediaApiSink(ws));
      // Where the stream starts is written at once: a restart before the next write would otherwise
      // take the resumed stream for a new one and give its audio sequence numbers already used.
      if (!started && this.mediaApi.started) this.persist();
      else this.markDirty();
      return;
    }
    const state = record?.session;
    if (!state) {
      ws.close(1011, "session state lost");
      return;
    }
    // After our disconnect, or after closed, the client has been told: what it sends now is dropped
    // quietly (one log line), except the close a disconnect asks for and pings while it comes.
    const after = state.phase === "disconnecting" || state.phase === "closed";
    if (typeof message !== "string") {
      if (after) {
        this.ignore("audio");
        return;
      }
      this.apply(ws, onAudio(state, new Uint8Array(message), this.limits()));
      this.markDirty();
      return;
    }
    if (state.phase === "closed") {
      this.ignore("message");
      return;
    }
    const bytes = message.length > MAX_TEXT_BYTES / 4 ? new TextEncoder().encode(message).length : 0;
    const parsed = bytes > MAX_TEXT_BYTES ? null : parseClientMessage(message);
    const transition =
      parsed === null
        ? disconnect(state, "error", `text message of ${bytes} bytes exceeds the 64 KiB limit`)
        : parsed.ok
          ? onMessage(state, parsed.message, this.limits())
          : onInvalidMessage(state, parsed.error);
    if (after && transition.effects.every((e) => e.type === "log")) {
      this.ignore("message");
      return;
    }
    if (transition.state.phase !== "awaiting-open") record.timers.openBy = null;
    this.apply(ws, transition);
    this.persist();
  }

  private ignore(what: string): void {
    if (this.ignoring) return;
    this.ignoring = true;
    this.log.log("info", "ignoring-after-end", { what, phase: this.record?.session?.phase });
  }

  /** Adopts the protocol machine's new state, then performs its effects in order. */
  private apply(ws: WebSocket, transition: Transition): void {
    if (!this.record) return;
    this.record.session = transition.state;
    this.perform(ws, transition.effects);
  }

  private perform(ws: WebSocket, effects: readonly Effect[]): void {
    const now = this.now();
    for (let i = 0; i < effects.length; i++) {
      const effect = effects[i] as Effect;
      switch (effect.type) {
        case "send":
          if (effect.message.type === "disconnect" && this.record)
            this.record.endReason ??= `disconnect:${String(effect.message.parameters.reason)}`;
          trySend(ws, JSON.stringify(effect.message));
          break;
        case "start":
          this.start(effect.call);
          break;
        case "audio":
          this.runForward(this.forwarder?.audio(effect.chunk, now) ?? []);
          break;
        case "boundary":
          this.runForward(this.forwarder?.boundary(effect.reason, now) ?? []);
          break;
        case "language":
          this.runForward(this.forwarder?.language(effect.language) ?? []);
          break;
        case "flush": {
          // The rest waits until everything received is acknowledged (or the flush times out).
          this.afterDrain = effects.slice(i + 1);
          const forwarder = this.forwarder;
          if (!forwarder) {
            this.events.run(() => this.dispatch({ type: "drained" }));
            return;
          }
          this.flushTimer = setTimeout(
            () => this.dispatch({ type: "flush-timeout" }),
            this.config.closeFlushTimeoutMs,
          );
          this.runForward(forwarder.drain(now));
          return;
        }
        case "acknowledge-close":
          if (this.record?.session) this.apply(ws, acknowledgeClose(this.record.session));
          break;
        case "cancel-close":
          this.setTimer({ closeAt: null });
          break;
        case "close-later":
          // Set once: later messages must not push the close further away.
          if (this.record && this.record.timers.closeAt === null)
            this.setTimer({
              closeAt: now + this.config.disconnectGraceMs,
              closeCode: effect.code,
              closeReason: effect.reason,
            });
          break;
        case "log":
          this.log.log(effect.level, effect.event, effect.fields);
          break;
      }
    }
  }

  private start(call: CallStart): void {
    if (!this.record) return;
    this.log = this.loggerFor(this.record);
    // A probe sends nothing downstream.
    if (call.probe) {
      this.forwarderInstance = null;
      return;
    }
    this.runForward(this.forwarder?.start(call) ?? []);
    // A session cannot continue itself: asking its own object, blocked below, would wait for ever.
    const named = [...new Set(call.continuedSessions ?? [])];
    const predecessors = named.filter((id) => id !== call.sessionId);
    if (predecessors.length < named.length)
      this.log.log("warn", "continued-session-ignored", {
        continued: call.sessionId,
        reason: "this session itself",
      });
    // Nothing else is delivered to this object until the predecessors answered: the first chunks
    // already carry what they knew.
    if (predecessors.length > 0)
      void this.ctx.blockConcurrencyWhile(() => this.continueFrom(call, predecessors));
  }

  /** Asks each session this call continues for its language decisions, and to finish if still open. */
  private async continueFrom(call: CallStart, predecessors: string[]): Promise<void> {
    const organizationId = this.record?.session?.organizationId ?? "";
    const answers = await Promise.all(
      predecessors.map(async (id) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<HandOver>((resolve) => {
          timer = setTimeout(
            () => resolve({ ok: false, reason: `no answer within ${HANDOVER_TIMEOUT_MS / 1000} s` }),
            HANDOVER_TIMEOUT_MS,
          );
        });
        try {
          const stub = this.env.CALL_SESSION.get(this.env.CALL_SESSION.idFromName(id));
          const asked = stub.handOver({
            organizationId,
            conversationId: call.conversationId,
            successor: call.sessionId,
          });
          return { id, answer: await Promise.race([asked, late]) };
        } catch (err) {
          return { id, answer: { ok: false as const, reason: `unreachable: ${String(err).slice(0, 100)}` } };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    this.dispatch({ type: "continued", answers });
  }

  private onContinued(answers: { id: string; answer: HandOver }[]): void {
    const record = this.record;
    if (!record) return;
    const accepted: string[] = [];
    let decisions: Record<string, DecisionState> | null = null;
    for (const { id, answer } of answers) {
      if (!answer.ok) {
        // Never an error for this call: it simply starts from nothing.
        this.log.log("warn", "continued-session-ignored", { continued: id, reason: answer.reason });
        continue;
      }
      accepted.push(id);
      decisions = answer.decisions ?? decisions;
    }
    record.continues = accepted;
    this.log = this.loggerFor(record);
    this.forwarder?.inherit(decisions, accepted);
    this.log.log("info", "continues", {
      sessions: accepted,
      languages: decisions ? Object.keys(decisions) : [],
    });
    this.persist();
  }

  /**
   * RPC from the session that continues this one (Genesys reconnected the call): this call's language
   * decisions, if it is the same organization's same conversation; a call still marked open is finished
   * as if its client had gone.
   */
  async handOver(request: {
    organizationId: string;
    conversationId: string;
    successor: string;
  }): Promise<HandOver> {
    const session = this.record?.session;
    if (!session) return { ok: false, reason: "no such session here" };
    if (
      session.organizationId !== request.organizationId.toLowerCase() ||
      session.conversationId !== request.conversationId
    )
      return { ok: false, reason: "a different organization or conversation" };
    const decisions = this.forwarder?.snapshot().decisions ?? null;
    if (this.live()) {
      this.dispatch({ type: "continued-by", successor: request.successor });
    }
    return { ok: true, decisions };
  }

  private runForward(effects: readonly ForwardEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case "push":
          this.request(this.transcriptionClient().pushAudio(effect.request));
          break;
        case "flush-session":
          this.request(this.transcriptionClient().flushSession(effect.request));
          break;
        case "results":
          this.deliver(effect.results);
          break;
        case "unspill":
          this.spills.remove(effect.upTo);
          break;
        case "spill-all":
          if (this.forwarder) this.spills.write(this.forwarder.spill(this.now(), Number.NEGATIVE_INFINITY));
          break;
        case "retry-at":
          this.setTimer({ retryAt: effect.at });
          break;
        case "refresh-token":
          this.token.invalidate().then(
            () => this.dispatch({ type: "token-refreshed" }),
            () => this.dispatch({ type: "token-refreshed" }),
          );
          break;
        case "stop":
          this.forwardingStopped(effect.error);
          break;
        case "drained":
          this.events.run(() => this.dispatch({ type: "drained" }));
          break;
        case "log":
          this.log.log(effect.level, effect.event, effect.fields);
          break;
      }
    }
  }

  private request(call: Promise<PushAudioResponse | FlushSessionResponse>): void {
    call.then(
      (response) => this.dispatch({ type: "answered", response }),
      (error: unknown) => this.dispatch({ type: "failed", error }),
    );
  }

  private onDrained(timedOut: boolean): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const rest = this.afterDrain;
    if (rest === null) return;
    this.afterDrain = null;
    if (timedOut)
      this.log.log("warn", "flush-timeout", {
        waitedMs: this.config.closeFlushTimeoutMs,
        ...this.forwarder?.summary(),
      });
    const ws = this.socket();
    if (ws) this.perform(ws, rest);
    this.persist();
  }

  /** Transcripts go back as AudioHook events on the Transcription Connector path only; Monitor only forwards. */
  private deliver(results: TranscriptResult[]): void {
    const media = this.record?.mediaApi;
    if (media) {
      const ws = this.socket();
      for (const r of results)
        if (ws) trySend(ws, JSON.stringify(transcriptFrame(r, media.language ?? "und")));
      return;
    }
    const state = this.record?.session;
    if (!state?.media || state.endpoint !== "transcription") return;
    const { channels } = state.media;
    const { sessionId } = state;
    const language = state.language ?? "und";
    // Entities are built asynchronously (their ids are digests) but sent in result order, through dispatch.
    this.events.run(async () => {
      const entities: unknown[] = [];
      for (const result of results) {
        const entity = await transcriptEntity(result, channels, sessionId, language);
        if (entity) entities.push(entity);
      }
      if (entities.length > 0) this.dispatch({ type: "transcripts", entities });
    });
  }

  private onTranscripts(entities: unknown[]): void {
    const ws = this.socket();
    if (!ws || !this.record?.session) return;
    for (const entity of entities) {
      const session = this.record.session;
      if (session) this.apply(ws, sendEvent(session, [entity]));
    }
    this.markDirty();
  }

  /** Delivery cannot go on: end the call with a reason the operator can act on. */
  private forwardingStopped(error: ForwardError): void {
    const info = FORWARD_FAILURE_INFO[error.code] ?? "transcription service error";
    this.log.log("error", "call-ended-by-forwarding", { code: error.code });
    if (this.record) this.record.endReason ??= `forwarding:${error.code}`;
    const ws = this.socket();
    if (!ws) return;
    if (this.record?.mediaApi) {
      trySend(ws, JSON.stringify({ type: "error", code: error.code, reason: info }));
      ws.close(1011, info.slice(0, 120));
      return;
    }
    const state = this.record?.session;
    // A client that already sent close gets its closed: the drain ends because delivery stopped.
    if (!state || state.phase === "closing" || state.phase === "closed") return;
    this.apply(ws, disconnect(state, "error", info));
    this.persist();
  }

  private mediaApiSink(ws: WebSocket | undefined): MediaApiSink {
    return {
      started: (call) => {
        if (this.record) this.log = this.loggerFor({ ...this.record, mediaApi: this.mediaApi.record() });
        this.runForward(this.forwarder?.start(call) ?? []);
      },
      audio: (chunk) => this.runForward(this.forwarder?.audio(chunk, this.now()) ?? []),
      gap: (samples) => this.runForward(this.forwarder?.gap(samples, this.now()) ?? []),
      send: (frame) => {
        if (ws) trySend(ws, JSON.stringify(frame));
      },
      close: (code, reason) => ws?.close(code, reason),
      log: (level, event, fields) => this.log.log(level, event, fields),
    };
  }

  private onSocketClosed(ws: WebSocket, code: number, reason: string): void {
    const phase = this.record?.session?.phase;
    // The client went away without close: end utterances and hand on what we hold.
    if (phase !== undefined && phase !== "closed" && phase !== "disconnecting")
      this.log.log("warn", "socket-closed-early", { code, reason: reason.slice(0, 100), phase });
    try {
      ws.close(1000, "closed");
    } catch {
      // The runtime may already have answered the close.
    }
    this.finish(phase === "closed" || phase === "closing" ? "closed" : "socket-closed");
  }

  /** A live call whose socket is gone without a close event (a restart, a deploy): finish it. */
  private orphaned(why: string): void {
    const phase = this.record?.session?.phase;
    this.log.log("warn", "call-orphaned", { why, phase: phase ?? null });
    this.finish(phase === "closed" ? "closed" : "orphaned");
  }

  /**
   * The call's socket is gone: utterances end (a media-api stream's session goes on, its client may come
   * back), what is held is still delivered, the storage goes after the retention, and the summary is written.
   */
  private finish(closedHow: string): void {
    const record = this.record;
    if (!record) return;
    const now = this.now();
    if (record.mediaApi && this.mediaApi.end(this.mediaApiSink(undefined)))
      this.runForward(this.forwarder?.boundary("pause", now) ?? []);
    const state = record.session;
    if (state && state.phase !== "closed") {
      if (state.phase === "open") this.runForward(this.forwarder?.boundary("close", now) ?? []);
      record.session = { ...state, phase: "closed" };
    }
    this.afterDrain = null;
    this.setTimer({ closeAt: null, openBy: null, livenessAt: null, purgeAt: now + RETENTION_MS });
    this.summarize(closedHow);
    this.persist();
  }

  private closeSockets(code: number, reason: string): void {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.close(code, reason);
      } catch {
        // Already closing.
      }
    }
  }

  private onAlarm(): void {
    const record = this.record;
    if (!record) return;
    const now = this.now();
    const { timers, due } = takeDue(record.timers, now);
    record.timers = timers;
    this.armedAlarm = undefined;
    if (due.has("closeAt")) this.closeSockets(record.timers.closeCode, record.timers.closeReason);
    if (due.has("openBy") && record.session?.phase === "awaiting-open") {
      const ws = this.socket();
      if (ws)
        this.apply(
          ws,
          disconnect(record.session, "error", `no open message within ${OPEN_TIMEOUT_MS / 1000} s`),
        );
    }
    if (due.has("retryAt") || (this.forwarder?.pending && this.forwarder.waitingForRetry === null)) {
      this.runForward(this.forwarder?.retryDue(now) ?? []);
    }
    if (due.has("livenessAt") && this.endUnseen()) {
      if (this.ctx.getWebSockets().length === 0) this.orphaned("socket gone");
      else record.timers.livenessAt = now + LIVENESS_MS;
    }
    if (due.has("purgeAt") && record.mediaApi && this.mediaApi.finish()) {
      // No reconnect came for the media-api stream: its downstream session ends, then the storage goes.
      this.runForward(this.forwarder?.boundary("close", now) ?? []);
      record.timers.purgeAt = now + FINISH_GRACE_MS;
    } else if (due.has("purgeAt")) {
      if (this.ctx.getWebSockets().length > 0 || this.forwarder?.pending) {
        // Undelivered audio outlives the retention period: look again later rather than erase it.
        record.timers.purgeAt = now + RETENTION_MS;
      } else {
        this.log.log("info", "purged");
        this.purge();
        return;
      }
    }
    this.persist();
  }

  /** Forgets the call: storage is erased by `alarm` right after, memory here. */
  private purge(): void {
    this.record = null;
    this.forwarderInstance = undefined;
    this.mediaApi.forget();
    this.rowsBefore = 0;
    this.storage.rowsWritten = 0;
    if (this.persistTimer !== null) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    this.purgeDue = true;
  }

  // ---- persistence and timers --------------------------------------------------------------------

  private setTimer(change: Partial<Timers>): void {
    if (!this.record) return;
    this.record.timers = { ...this.record.timers, ...change };
    this.markDirty();
  }

  /** Audio is flowing: write the record within PERSIST_EVERY_MS (the pending timer also keeps the object awake). */
  private markDirty(): void {
    if (this.persistTimer !== null || !this.record) return;
    this.persistTimer = setTimeout(() => this.dispatch({ type: "persist" }), PERSIST_EVERY_MS);
  }

  /** Writes the call record (one row) and the batches not acknowledged promptly, and arms the alarm. */
  private persist(): void {
    const record = this.record;
    if (!record) return;
    if (this.persistTimer !== null) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    const forwarder = this.forwarderInstance;
    if (forwarder) {
      // Audio held back for the send interval is not late yet: the allowance starts when it could go.
      this.spills.write(forwarder.spill(this.now(), SPILL_AFTER_MS + this.config.forwardIntervalMs));
      record.forwarder = forwarder.snapshot();
    }
    record.mediaApi = this.mediaApi.record();
    record.rowsWritten = this.rowsBefore + this.storage.rowsWritten + 1;
    this.storage.saveState(record);
    // Batches still in memory only: look again soon (the pending timer also keeps the object from hibernating).
    if (forwarder?.unspilled) this.markDirty();
    const next = nextDue(record.timers);
    if (next !== this.armedAlarm) {
      this.armedAlarm = next;
      if (next === null) void this.ctx.storage.deleteAlarm();
      else void this.ctx.storage.setAlarm(next);
    }
  }

  /** The call's one summary line (and its metrics): what an operator needs to see how it went. */
  private summarize(closedHow: string): void {
    const record = this.record;
    if (!record || record.summarized) return;
    const endReason = record.endReason ?? closedHow;
    record.summarized = true;
    const session = record.session;
    const media = record.mediaApi;
    const channels = media ? 1 : (session?.media?.channels.length ?? 0);
    const received = session?.receivedSamples ?? media?.checkpoint?.positionSamples ?? 0;
    const forwarder = this.forwarderInstance;
    const stats = forwarder?.stats;
    const summary: CallSummary = {
      sessionId: session?.sessionId ?? (media ? this.mediaApiName(media) : "unknown"),
      conversationId: session?.conversationId ?? media?.conversationId ?? null,
      organizationId: session?.organizationId ?? null,
      endpoint: media ? "media-api" : (session?.endpoint ?? null),
      durationMs: this.now() - record.startedAt,
      channels,
      audioSeconds: (received * channels) / SUPPORTED_RATE,
      acknowledgedSeconds: (stats?.acknowledgedSamples ?? 0) / SUPPORTED_RATE,
      languages: forwarder?.languageSummary() ?? null,
      transcripts: stats?.results ?? 0,
      requests: stats?.requests ?? 0,
      retries: stats?.retries ?? 0,
      outboxPeakSeconds: (stats?.outboxPeakSamples ?? 0) / SUPPORTED_RATE,
      rowsWritten: this.rowsBefore + this.storage.rowsWritten,
      endReason,
      ackLatencyMs: forwarder?.latencySummary() ?? null,
      continues: record.continues ?? [],
    };
    this.log.log("info", "call-summary", { ...summary });
    // Per-call metrics when the CALL_METRICS dataset is bound; nothing happens without it.
    writeCallMetrics(metricsBinding(this.env), summary, this.log);
  }
}
