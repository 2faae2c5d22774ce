// The forwarding stage of a call inside its Durable Object: batches each channel's PCM, tags it with
// the language, keeps it in the SQLite outbox until the transcription service acknowledges it, and
// sends it with unary PushAudio calls, in order, retried with backoff (alarms) and deduplicated by
// sequence on the server. Results come back with the acknowledgements.

import type { BoundaryReason, CallStart } from "../audiohook/session";
import { CallLanguage } from "../detect/call-language";
import type { DecisionState } from "../detect/decision";
import type { LanguageDetector } from "../detect/detector";
import type { TextLanguageIdentifier } from "../detect/text";
import type { BatcherSnapshot, ForwardChannel, LanguageTag } from "../forward/batcher";
import { AudioBatcher } from "../forward/batcher";
import { createTranscriptionClient, type FetchLike, type TranscriptionClient } from "../forward/client";
import {
  buildFlushRequest,
  channelFromProto,
  type FlushCause,
  type SessionContext,
} from "../forward/messages";
import { Outbox } from "../forward/outbox";
import { pushRound } from "../forward/push";
import { backoffDelayMs, classifyError, defaultRetryPolicy, ForwardError } from "../forward/retry";
import type { TranscriptResult } from "../gen/langhook/transcription/v1/transcription_pb";
import type { Logger } from "../log";
import type { PcmChunk } from "../media/frames";
import { SqlOutboxStore } from "./outbox-store";
import type { CallPipeline } from "./pipeline";

/** Answer of the shared token cache (see auth/TokenBroker). */
export type TokenAnswer =
  | { ok: true; token: string | null }
  | { ok: false; code: string; message: string; retryable: boolean };

/** What the Durable Object lends the pipeline: storage, network, timers and the way back to the call. */
export interface ForwardingHost {
  sql: SqlStorage;
  load<T>(key: string): T | null;
  store(key: string, value: unknown): void;
  fetch: FetchLike;
  token(): Promise<TokenAnswer>;
  invalidateToken(): Promise<void>;
  /** Calls `resume()` at `at` (epoch ms), through an alarm so it survives eviction. */
  scheduleRetry(at: number): Promise<void>;
  results(results: TranscriptResult[]): void;
  /** Delivery cannot continue (credentials refused, outbox full): end the call with this reason. */
  fatal(error: ForwardError): void;
  log: Logger;
}

export interface ForwardingOptions {
  baseUrl: string;
  batchMs: number;
  maxBufferedMs: number;
  requestTimeoutMs: number;
  /** How long `close` waits for the service before answering `closed` anyway. */
  flushTimeoutMs: number;
  /** Gives up on undeliverable audio after this long without a success (the call is long gone). */
  giveUpAfterMs: number;
  /** Languages a call may be in unless its customConfig narrows them (`customConfig.languages`). */
  supportedLanguages: readonly string[];
  /** The acoustic detector of one channel; null tags with the configured language only. */
  detector: ((candidates: readonly string[] | null) => LanguageDetector) | null;
  text: TextLanguageIdentifier | null;
}

interface Cursor {
  call: CallStart | null;
  lastResultSequence: number;
  attempt: number;
  failingSince: number | null;
  language: string | null;
}

const FLUSH_CAUSE: Record<BoundaryReason, FlushCause> = {
  pause: "paused",
  update: "updated",
  discarded: "discarded",
  close: "closed",
  disconnect: "closed",
};

const BATCHES_PER_CALL = 10;

export class ForwardingPipeline implements CallPipeline {
  private readonly store: SqlOutboxStore;
  private readonly outbox: Outbox;
  private readonly batcher: AudioBatcher;
  private readonly client: TranscriptionClient;
  private cursor: Cursor;
  private pumping: Promise<void> | null = null;
  /** Set when work arrives while a pump is running, so nothing waits for the next frame to move. */
  private rerun = false;
  private waitingForAlarm = false;
  private tokenRetried = false;
  private readonly drainWaiters: (() => void)[] = [];
  private callLanguage: CallLanguage | null = null;
  /** Set once the call is being ended by a forwarding error: no new audio is taken after it. */
  private stopped: ForwardError | null = null;
  private savedLanguage = "";
  /** The CallLanguage and its version last serialised: audio frames mostly change nothing. */
  private savedLanguageVersion: { of: CallLanguage; version: number } | null = null;

  constructor(
    private readonly host: ForwardingHost,
    private readonly options: ForwardingOptions,
    channels: number,
  ) {
    this.store = new SqlOutboxStore(host.sql);
    this.outbox = new Outbox(this.store, { maxBufferedMs: options.maxBufferedMs, channels });
    this.batcher = new AudioBatcher(
      { batchMs: options.batchMs },
      host.load<BatcherSnapshot>("batcher") ?? undefined,
    );
    this.cursor = host.load<Cursor>("forward") ?? {
      call: null,
      lastResultSequence: 0,
      attempt: 0,
      failingSince: null,
      language: null,
    };
    this.client = createTranscriptionClient({
      baseUrl: options.baseUrl,
      fetch: host.fetch,
      timeoutMs: options.requestTimeoutMs,
      getToken: () => this.bearer(),
    });
  }

  private save(): void {
    this.host.store("forward", this.cursor);
  }

  private get context(): SessionContext | null {
    const call = this.cursor.call;
    if (!call || call.probe) return null;
    return {
      sessionId: call.sessionId,
      conversationId: call.conversationId,
      participantId: call.participantId,
    };
  }

  start(call: CallStart): void {
    this.cursor = { ...this.cursor, call, language: call.language };
    this.save();
  }

  /** The call's per-channel language decisions, rebuilt after a wake-up from what was stored. */
  private languages(): CallLanguage | null {
    const call = this.cursor.call;
    if (this.callLanguage || !call?.media || call.probe) return this.callLanguage;
    const narrowed = call.customConfig?.languages;
    const candidates =
      Array.isArray(narrowed) &&
      narrowed.length > 0 &&
      narrowed.every((l): l is string => typeof l === "string")
        ? narrowed
        : this.options.supportedLanguages;
    this.callLanguage = new CallLanguage(
      {
        channels: call.media.channels,
        configured: this.cursor.language,
        candidates,
        detector: this.options.detector,
        text: this.options.text,
      },
      this.host.load<Record<string, DecisionState>>("language") ?? undefined,
    );
    return this.callLanguage;
  }

  private saveLanguage(languages: CallLanguage): void {
    const seen = this.savedLanguageVersion;
    if (seen?.of === languages && seen.version === languages.version) return;
    this.savedLanguageVersion = { of: languages, version: languages.version };
    const json = JSON.stringify(languages.snapshot());
    if (json === this.savedLanguage) return;
    this.savedLanguage = json;
    this.host.store("language", languages.snapshot());
  }

  audio(chunk: PcmChunk): void {
    const languages = this.languages();
    if (!this.context || !languages || this.stopped) return;
    chunk.media.channels.forEach((name, i) => {
      const samples = chunk.channels[i] as Int16Array;
      languages.observe(name, samples);
      const tag: LanguageTag = languages.tag(name);
      this.enqueue(this.batcher.push(name as ForwardChannel, samples, tag, chunk.startSample));
    });
    this.saveLanguage(languages);
    this.host.store("batcher", this.batcher.snapshot());
    this.kick();
  }

  private enqueue(batches: ReturnType<AudioBatcher["flush"]>): void {
    for (const batch of batches) {
      const queued = this.outbox.enqueue(batch);
      if (!queued.ok) {
        this.stop(queued.error);
        return;
      }
    }
  }

  /** Ends the call once; what the outbox holds is still delivered unless the service refused us. */
  private stop(error: ForwardError): void {
    if (this.stopped) return;
    this.stopped = error;
    this.host.fatal(error);
  }

  boundary(reason: BoundaryReason): void {
    if (!this.context) return;
    this.enqueue(this.batcher.flush());
    this.host.store("batcher", this.batcher.snapshot());
    this.store.addMark(FLUSH_CAUSE[reason]);
    this.kick();
  }

  gap(missingSamples: number): void {
    const call = this.cursor.call;
    if (!this.context || !call?.media) return;
    for (const channel of call.media.channels) this.enqueue(this.batcher.skip(channel, missingSamples));
    this.host.store("batcher", this.batcher.snapshot());
    this.store.addMark("discarded");
    this.kick();
  }

  language(language: string | null): void {
    this.cursor.language = language;
    this.save();
    const languages = this.languages();
    if (languages) {
      languages.configure(language);
      this.saveLanguage(languages);
    }
  }

  /** Resolves when everything is acknowledged, or after `flushTimeoutMs` (delivery then continues by alarm). */
  async flush(): Promise<void> {
    if (!this.context || this.store.drained()) return;
    const drained = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    this.kick();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.options.flushTimeoutMs);
    });
    const outcome = await Promise.race([drained.then(() => "drained" as const), timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.host.log.log("warn", "flush-timeout", {
        batches: this.outbox.count,
        waitedMs: this.options.flushTimeoutMs,
      });
    }
  }

  /** Called by the alarm: try again after a backoff, or after the object was evicted. */
  resume(): void {
    this.waitingForAlarm = false;
    this.kick();
  }

  /** Work left for an alarm to pick up after eviction. */
  pending(): boolean {
    const delivering = !this.stopped || this.stopped.code === "ERR_OUTBOX_FULL";
    return this.context !== null && delivering && !this.store.drained();
  }

  summary(): Record<string, unknown> {
    return { outboxBatches: this.outbox.count, lastResultSequence: this.cursor.lastResultSequence };
  }

  private kick(): void {
    // After a refusal (credentials, invalid audio) repeating the calls cannot help; a full outbox still drains.
    if (this.waitingForAlarm || (this.stopped && this.stopped.code !== "ERR_OUTBOX_FULL")) return;
    if (this.pumping) {
      this.rerun = true;
      return;
    }
    // Background work: a failure here (e.g. the runtime shutting down mid-call) is logged, never unhandled.
    this.pumping = this.pump()
      .catch((err: unknown) =>
        this.host.log.log("error", "forward-pump-failed", { error: String(err).slice(0, 200) }),
      )
      .finally(() => {
        this.pumping = null;
        if (this.rerun) {
          this.rerun = false;
          this.kick();
        }
      });
  }

  private async bearer(): Promise<string | undefined> {
    const answer = await this.host.token();
    if (answer.ok) return answer.token ?? undefined;
    throw new ForwardError(
      answer.retryable ? "ERR_TRANSCRIBER_UNAVAILABLE" : "ERR_TRANSCRIBER_UNAUTHENTICATED",
      `token endpoint: ${answer.message}`,
    );
  }

  private async pump(): Promise<void> {
    const context = this.context;
    if (!context) return;
    try {
      for (;;) {
        const batches = this.outbox.next(BATCHES_PER_CALL);
        if (batches.length > 0) {
          const round = await pushRound(this.client, this.outbox, context, this.cursor.lastResultSequence, {
            maxBatches: BATCHES_PER_CALL,
          });
          this.succeeded(round.results, round.lastResultSequence);
          continue;
        }
        const mark = this.store.nextMark();
        if (mark && this.store.reached(mark)) {
          const response = await this.client.flushSession(
            buildFlushRequest(context.sessionId, mark.cause, {
              lastResultSequence: this.cursor.lastResultSequence,
            }),
          );
          const fresh = response.results.filter(
            (r) => Number(r.sequenceNumber) > this.cursor.lastResultSequence,
          );
          this.store.removeMark(mark.id);
          this.succeeded(fresh, Number(fresh.at(-1)?.sequenceNumber ?? this.cursor.lastResultSequence));
          continue;
        }
        break;
      }
      for (const wake of this.drainWaiters.splice(0)) wake();
    } catch (err) {
      await this.failed(err);
    }
  }

  private succeeded(results: TranscriptResult[], lastResultSequence: number): void {
    this.cursor.lastResultSequence = lastResultSequence;
    this.cursor.attempt = 0;
    this.cursor.failingSince = null;
    this.tokenRetried = false;
    this.save();
    if (results.length === 0) return;
    const languages = this.languages();
    if (languages) {
      // What the engine heard, and the language of its text, correct or confirm the acoustic tag.
      for (const r of results) {
        const channel = channelFromProto(r.channel);
        if (channel && r.isFinal) languages.transcript(channel, r);
      }
      this.saveLanguage(languages);
    }
    this.host.results(results);
  }

  private async failed(err: unknown): Promise<void> {
    // Our own errors (the token step) may come back wrapped by the Connect client.
    const cause = err instanceof Error ? err.cause : undefined;
    const forward = err instanceof ForwardError ? err : cause instanceof ForwardError ? cause : null;
    const verdict = forward
      ? forward.code === "ERR_TRANSCRIBER_UNAVAILABLE"
        ? ({ retryable: true, retryAfterMs: undefined } as const)
        : ({ retryable: false, error: forward } as const)
      : classifyError(err);
    if (!verdict.retryable) {
      // A refused token may just be stale: fetch a fresh one once before giving up on the call.
      if (verdict.error.code === "ERR_TRANSCRIBER_UNAUTHENTICATED" && !this.tokenRetried && !forward) {
        this.tokenRetried = true;
        await this.host.invalidateToken();
        this.kick();
        return;
      }
      this.host.log.log("error", "forward-failed", {
        code: verdict.error.code,
        message: verdict.error.message,
      });
      this.stop(verdict.error);
      for (const wake of this.drainWaiters.splice(0)) wake();
      return;
    }
    const now = Date.now();
    this.cursor.attempt += 1;
    this.cursor.failingSince ??= now;
    this.save();
    if (now - this.cursor.failingSince > this.options.giveUpAfterMs) {
      // The one place audio is ever dropped: after giveUpAfterMs of failures, counted in the log.
      this.host.log.log("error", "forward-abandoned", {
        batches: this.outbox.count,
        samples: this.outbox.sizeInSamples,
        failingForMs: now - this.cursor.failingSince,
      });
      const alreadyEnding = this.stopped !== null;
      this.stopped = new ForwardError("ERR_TRANSCRIBER_UNAVAILABLE", "transcription service unreachable");
      this.store.clear();
      if (!alreadyEnding) this.host.fatal(this.stopped);
      for (const wake of this.drainWaiters.splice(0)) wake();
      return;
    }
    // Backoff keeps growing to its ceiling but never gives up while the outbox has room: the bound on
    // buffered audio, not an attempt count, decides when a call must end.
    const delay =
      verdict.retryAfterMs !== undefined
        ? Math.min(verdict.retryAfterMs, defaultRetryPolicy.maxServerDelayMs)
        : backoffDelayMs(this.cursor.attempt, defaultRetryPolicy, Math.random);
    this.host.log.log("warn", "forward-retry", {
      attempt: this.cursor.attempt,
      delayMs: delay,
      batches: this.outbox.count,
      error: err instanceof Error ? err.message.slice(0, 200) : String(err),
    });
    this.waitingForAlarm = true;
    await this.host.scheduleRetry(now + Math.max(delay, 1));
  }
}
