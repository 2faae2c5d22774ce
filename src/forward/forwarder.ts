// The forwarding stage of one call as a state machine without I/O: audio in, batches tagged with the
// channel's language, an in-memory outbox, one request to the transcription service at a time. Every input
// returns effects (send this request, deliver these results, retry at, make these batches durable, end the
// call); the Durable Object performs them and feeds the outcome back in. Nothing here awaits, so the
// object's one serialized path is the only writer of this state.

import { Code } from "@connectrpc/connect";
import type { BoundaryReason, CallStart } from "../audiohook/session.js";
import { CallLanguage } from "../detect/call-language.js";
import type { DecisionState } from "../detect/decision.js";
import type { LanguageDetector } from "../detect/detector.js";
import type { TextLanguageIdentifier } from "../detect/text.js";
import type {
  ChannelAck,
  FlushSessionRequest,
  PushAudioRequest,
  TranscriptResult,
} from "../gen/langhook/transcription/v1/transcription_pb.js";
import type { PcmChunk } from "../media/frames.js";
import { AudioBatcher, type BatcherSnapshot, type ForwardChannel } from "./batcher.js";
import { LatencyHistogram, type LatencySummary } from "./latency.js";
import {
  acksFromProto,
  buildFlushRequest,
  buildPushRequest,
  channelFromProto,
  type FlushCause,
  type SessionContext,
} from "./messages.js";
import { type BoundaryMark, Outbox, type OutboxEntry } from "./outbox.js";
import {
  backoffDelayMs,
  classifyError,
  defaultRetryPolicy,
  ForwardError,
  type RandomSource,
} from "./retry.js";

export interface ForwarderOptions {
  batchMs: number;
  /** Audio held per channel before the call is ended (OUTBOX_MAX_SECONDS). */
  maxBufferedMs: number;
  /** Gives up on undeliverable audio after this long without a success (the call is long gone). */
  giveUpAfterMs: number;
  /** Batches per request at most (both channels together). */
  maxBatchesPerRequest: number;
  /**
   * While nothing needs flushing, audio is sent once its oldest unsent frame is this old (0: as soon as
   * a batch is complete). A request costs the Worker far more CPU than the audio in it, so sending every
   * 300 ms instead of every 100 ms cuts the gateway's forwarding cost by about two thirds, for 200 ms
   * more latency.
   */
  sendIntervalMs: number;
  /** A batch the service had but has not acknowledged after this long is sent again. */
  resendAfterMs: number;
  /** Languages a call may be in unless its customConfig narrows them (`customConfig.languages`). */
  supportedLanguages: readonly string[];
  /** The acoustic detector of one channel; null tags with the configured language only. */
  detector: ((candidates: readonly string[] | null) => LanguageDetector) | null;
  text: TextLanguageIdentifier | null;
  random?: RandomSource;
}

/** What the forwarder keeps across hibernation, next to the spilled batches (plain JSON). */
export interface ForwarderSnapshot {
  call: CallStart | null;
  language: string | null;
  lastResultSequence: number;
  attempt: number;
  failingSince: number | null;
  stopped: { code: ForwardError["code"]; message: string } | null;
  batcher: BatcherSnapshot;
  decisions: Record<string, DecisionState> | null;
  marks: BoundaryMark[];
  nextId: number;
  waitingUntil: number | null;
  stats: ForwardStats;
  continues: string[];
}

/** Counters for the end-of-call summary. */
export interface ForwardStats {
  requests: number;
  retries: number;
  acknowledgedSamples: number;
  outboxPeakSamples: number;
  results: number;
}

export type ForwardEffect =
  | { type: "push"; request: PushAudioRequest }
  | { type: "flush-session"; request: FlushSessionRequest }
  /** New results, in order: transcripts to send back. */
  | { type: "results"; results: TranscriptResult[] }
  /** The durable copies of these channels' batches up to this sequence can go. */
  | { type: "unspill"; upTo: Partial<Record<ForwardChannel, number>> }
  /** Delivery is failing: make everything held durable now. */
  | { type: "spill-all" }
  /** Call `retryDue` at this time (through an alarm: it must survive eviction). */
  | { type: "retry-at"; at: number }
  /** The token was refused: fetch a fresh one, then call `retryDue`. */
  | { type: "refresh-token" }
  /** Delivery cannot go on as it was: end the call with this reason (what is held may still be delivered). */
  | { type: "stop"; error: ForwardError }
  /** Everything received has been acknowledged (after `drain`). */
  | { type: "drained" }
  | { type: "log"; level: "info" | "warn" | "error"; event: string; fields: Record<string, unknown> };

const FLUSH_CAUSE: Record<BoundaryReason, FlushCause> = {
  pause: "paused",
  update: "updated",
  discarded: "discarded",
  close: "closed",
  disconnect: "closed",
};

export class Forwarder {
  private readonly outbox: Outbox;
  private readonly batcher: AudioBatcher;
  private readonly latency = new LatencyHistogram();
  private call: CallStart | null;
  private configured: string | null;
  private lastResultSequence: number;
  private attempt: number;
  private failingSince: number | null;
  private stopped: ForwardError | null;
  private waitingUntil: number | null;
  private inFlight: "push" | "flush" | null = null;
  private inFlightEntries: OutboxEntry[] = [];
  private drainWanted = false;
  private tokenRetried = false;
  private callLanguage: CallLanguage | null = null;
  private savedDecisions: Record<string, DecisionState> | null;
  private continues: string[];
  readonly stats: ForwardStats;

  constructor(
    private readonly options: ForwarderOptions,
    restored?: { snapshot: ForwarderSnapshot; spilled: OutboxEntry[] },
  ) {
    const s = restored?.snapshot;
    this.batcher = new AudioBatcher({ batchMs: options.batchMs }, s?.batcher);
    this.call = s?.call ?? null;
    this.configured = s?.language ?? null;
    this.lastResultSequence = s?.lastResultSequence ?? 0;
    this.attempt = s?.attempt ?? 0;
    this.failingSince = s?.failingSince ?? null;
    this.stopped = s?.stopped ? new ForwardError(s.stopped.code, s.stopped.message) : null;
    this.waitingUntil = s?.waitingUntil ?? null;
    this.savedDecisions = s?.decisions ?? null;
    this.continues = s?.continues ?? [];
    this.stats = s?.stats ?? {
      requests: 0,
      retries: 0,
      acknowledgedSamples: 0,
      outboxPeakSamples: 0,
      results: 0,
    };
    this.outbox = new Outbox({ maxSamples: this.boundFor(this.call) });
    if (restored) this.outbox.restore(restored.spilled, s?.marks ?? [], s?.nextId ?? 1);
  }

  /** The bound counts the channels the call really has: a mono call holds half of a stereo one. */
  private boundFor(call: CallStart | null): number {
    const channels = call?.media?.channels.length ?? 2;
    return Math.floor((this.options.maxBufferedMs * this.batcher.sampleRate * channels) / 1000);
  }

  private get context(): SessionContext | null {
    const call = this.call;
    if (!call || call.probe) return null;
    return {
      sessionId: call.sessionId,
      conversationId: call.conversationId,
      participantId: call.participantId,
      continues: this.continues,
    };
  }

  /**
   * This call continues earlier sessions (a reconnect): their language decisions carry over, and every
   * request names them so the service can join the transcripts. Comes before the first audio.
   */
  inherit(decisions: Record<string, DecisionState> | null, sessions: readonly string[]): void {
    this.continues = [...sessions];
    if (decisions) {
      this.savedDecisions = decisions;
      this.callLanguage = null;
    }
  }

  snapshot(): ForwarderSnapshot {
    return {
      call: this.call,
      language: this.configured,
      lastResultSequence: this.lastResultSequence,
      attempt: this.attempt,
      failingSince: this.failingSince,
      stopped: this.stopped ? { code: this.stopped.code, message: this.stopped.message } : null,
      batcher: this.batcher.snapshot(),
      decisions: this.callLanguage?.snapshot() ?? this.savedDecisions,
      marks: [...this.outbox.marks],
      nextId: this.outbox.nextId,
      waitingUntil: this.waitingUntil,
      stats: { ...this.stats },
      continues: this.continues,
    };
  }

  start(call: CallStart): ForwardEffect[] {
    this.call = call;
    this.configured = call.language;
    // The outbox was built before the call's channels were known.
    this.outbox.maxSamples = this.boundFor(call);
    return [];
  }

  /** The per-channel language decisions, built on first use (after a wake-up from the snapshot). */
  private languages(): CallLanguage | null {
    const call = this.call;
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
        configured: this.configured,
        candidates,
        detector: this.options.detector,
        text: this.options.text,
      },
      this.savedDecisions ?? undefined,
    );
    return this.callLanguage;
  }

  audio(chunk: PcmChunk, now: number): ForwardEffect[] {
    const languages = this.languages();
    if (!this.context || !languages || this.stopped) return [];
    const out: ForwardEffect[] = [];
    chunk.media.channels.forEach((name, i) => {
      const samples = chunk.channels[i] as Int16Array;
      languages.observe(name, samples);
      const batches = this.batcher.push(
        name as ForwardChannel,
        samples,
        languages.tag(name),
        chunk.startSample,
        now,
      );
      this.enqueue(batches, out);
    });
    this.pump(now, out);
    return out;
  }

  private enqueue(batches: ReturnType<AudioBatcher["flush"]>, out: ForwardEffect[]): void {
    for (const batch of batches) {
      if (this.stopped) return;
      const queued = this.outbox.enqueue(batch, batch.since);
      if (!queued.ok) {
        this.stop(queued.error, out);
        return;
      }
      this.stats.outboxPeakSamples = Math.max(this.stats.outboxPeakSamples, this.outbox.sizeInSamples);
    }
  }

  private stop(error: ForwardError, out: ForwardEffect[]): void {
    if (this.stopped) return;
    this.stopped = error;
    out.push({ type: "stop", error });
  }

  /** Utterances in progress end here: what is pending goes out, then the service is asked to flush. */
  boundary(reason: BoundaryReason, now: number): ForwardEffect[] {
    if (!this.context) return [];
    const out: ForwardEffect[] = [];
    this.enqueue(this.batcher.flush(), out);
    this.outbox.addMark(FLUSH_CAUSE[reason]);
    this.pump(now, out);
    return out;
  }

  /** Audio the sender lost (a media-api sequence gap): sequence numbers are skipped, the service sees it. */
  gap(missingSamples: number, now: number): ForwardEffect[] {
    const call = this.call;
    if (!this.context || !call?.media) return [];
    const out: ForwardEffect[] = [];
    for (const channel of call.media.channels) this.enqueue(this.batcher.skip(channel, missingSamples), out);
    this.outbox.addMark("discarded");
    this.pump(now, out);
    return out;
  }

  language(language: string | null): ForwardEffect[] {
    this.configured = language;
    this.languages()?.configure(language);
    return [];
  }

  /** Asks for a `drained` effect once everything held has been acknowledged (at once if it already is). */
  drain(now: number): ForwardEffect[] {
    const out: ForwardEffect[] = [];
    this.enqueue(this.batcher.flush(), out);
    this.drainWanted = true;
    this.pump(now, out);
    return out;
  }

  /**
   * Delivery was refused for good (credentials, invalid audio, given up): repeating the calls cannot help.
   * A call ended by a full outbox still delivers what it holds.
   */
  private get refused(): boolean {
    return this.stopped !== null && this.stopped.code !== "ERR_OUTBOX_FULL";
  }

  /** Work left that an alarm must pick up after eviction. */
  get pending(): boolean {
    return this.context !== null && !this.refused && !this.outbox.drained;
  }

  /** Why delivery stopped (no audio is taken any more), or null while it goes on. */
  get stoppedWith(): ForwardError | null {
    return this.stopped;
  }

  get waitingForRetry(): number | null {
    return this.waitingUntil;
  }

  /**
   * Batches that must become durable: those not acknowledged within `promptMs` of arriving, and all of
   * them while delivery is failing (nothing will acknowledge them soon).
   */
  spill(now: number, promptMs: number): OutboxEntry[] {
    return this.outbox.spill(this.failingSince !== null ? Number.POSITIVE_INFINITY : now - promptMs);
  }

  /** Batches held that are not durable yet: the shell keeps a write pending (and the object awake) for them. */
  get unspilled(): boolean {
    return this.outbox.hasUnspilled;
  }

  summary(): Record<string, unknown> {
    return {
      outboxBatches: this.outbox.count,
      lastResultSequence: this.lastResultSequence,
      ...this.stats,
      stopped: this.stopped?.code ?? null,
    };
  }

  /** Each channel's language, what decided it and when it became confident (null before the call started). */
  languageSummary(): ReturnType<CallLanguage["summary"]> | null {
    return this.languages()?.summary() ?? null;
  }

  latencySummary(): LatencySummary {
    return this.latency.summary();
  }

  /** The alarm for a backoff came (or the object woke with work left): try again. */
  retryDue(now: number): ForwardEffect[] {
    if (this.waitingUntil !== null && this.waitingUntil > now) return [];
    this.waitingUntil = null;
    const out: ForwardEffect[] = [];
    this.pump(now, out);
    return out;
  }

  /** Starts the next request when none is in flight: audio first, then the next boundary's flush. */
  private pump(now: number, out: ForwardEffect[]): void {
    const context = this.context;
    if (!context) {
      // A probe, or a call that never opened: nothing was or will be sent.
      this.settleDrain(out);
      return;
    }
    if (this.inFlight || this.waitingUntil !== null) return;
    if (this.refused) {
      this.settleDrain(out);
      return;
    }
    // Unacknowledged for long after the service had them: it may have lost them, send them again.
    this.outbox.resend(now - this.options.resendAfterMs);
    const entries = this.outbox.nextEntries(this.options.maxBatchesPerRequest);
    // Not yet, unless a boundary or the end of the call is waiting: more audio joins this request.
    const urgent = this.drainWanted || this.outbox.nextMark() !== null || this.attempt > 0;
    const oldest = entries[0]?.since ?? now;
    if (!urgent && entries.length > 0 && oldest > now - this.options.sendIntervalMs) return;
    try {
      if (entries.length > 0) {
        const batches = entries.map((e) => e.batch);
        out.push({
          type: "push",
          request: buildPushRequest(context, batches, { lastResultSequence: this.lastResultSequence }),
        });
        this.inFlight = "push";
        this.inFlightEntries = entries;
        this.stats.requests += 1;
        return;
      }
      const mark = this.outbox.nextMark();
      if (mark && this.outbox.markReached()) {
        out.push({
          type: "flush-session",
          request: buildFlushRequest(context.sessionId, mark.cause, {
            lastResultSequence: this.lastResultSequence,
            continues: this.continues,
          }),
        });
        this.inFlight = "flush";
        this.stats.requests += 1;
        return;
      }
    } catch (err) {
      // Building the request failed here, not in the network: never a retryable transport error.
      out.push(...this.failed(err, now));
      return;
    }
    this.settleDrain(out);
  }

  private settleDrain(out: ForwardEffect[]): void {
    const done = this.context === null || this.outbox.drained || this.refused;
    if (this.drainWanted && done && !this.inFlight) {
      this.drainWanted = false;
      out.push({ type: "drained" });
    }
  }

  /** The service answered a push or a flush. */
  answered(
    response: { acks: readonly ChannelAck[]; results: readonly TranscriptResult[] },
    now: number,
  ): ForwardEffect[] {
    const out: ForwardEffect[] = [];
    const kind = this.inFlight;
    this.inFlight = null;
    if (kind === "push") this.outbox.markSent(this.inFlightEntries, now);
    this.inFlightEntries = [];
    const acked = this.outbox.acknowledge(acksFromProto(response.acks));
    for (const entry of acked.removed) {
      // 0: arrival unknown (a partial batch restored after a wake-up keeps no clock).
      if (entry.since > 0) this.latency.add(now - entry.since);
      this.stats.acknowledgedSamples += entry.batch.samples.length;
    }
    if (Object.keys(acked.spilledUpTo).length > 0) out.push({ type: "unspill", upTo: acked.spilledUpTo });
    if (kind === "flush") this.outbox.removeMark();
    // A result at or below the cursor can only come from a server that ignored the cursor: skip it.
    const fresh = response.results.filter((r) => Number(r.sequenceNumber) > this.lastResultSequence);
    const last = fresh.at(-1);
    if (last) this.lastResultSequence = Number(last.sequenceNumber);
    this.attempt = 0;
    this.failingSince = null;
    this.tokenRetried = false;
    if (fresh.length > 0) {
      this.stats.results += fresh.length;
      const languages = this.languages();
      // What the engine heard, and the language of its text, correct or confirm the acoustic tag.
      for (const r of fresh) {
        const channel = channelFromProto(r.channel);
        if (languages && channel && r.isFinal) languages.transcript(channel, r);
      }
      out.push({ type: "results", results: fresh });
    }
    // Answering but never acknowledging: resent every resendAfterMs, such audio would keep the call's
    // object alive for ever. (While the call is live, the outbox bound ends it within OUTBOX_MAX_SECONDS.)
    const oldest = this.outbox.oldestSince();
    if (oldest > 0 && now - oldest > this.options.giveUpAfterMs) {
      this.abandon({ unacknowledgedForMs: now - oldest }, out);
      return out;
    }
    this.pump(now, out);
    return out;
  }

  /** A request failed (or could not be built). */
  failed(err: unknown, now: number): ForwardEffect[] {
    const out: ForwardEffect[] = [];
    this.inFlight = null;
    this.inFlightEntries = [];
    // The service may have none of what it was sent: everything unacknowledged goes again.
    this.outbox.resend();
    const verdict = classifyError(err);
    if (!verdict.retryable) {
      // A token the service refused may just be stale: fetch a fresh one once before giving up on the
      // call. (One our token endpoint refused carries no Connect code: refreshing would not help.)
      const serviceRefused = verdict.error.connectCode === Code.Unauthenticated;
      if (serviceRefused && !this.tokenRetried) {
        this.tokenRetried = true;
        this.waitingUntil = Number.POSITIVE_INFINITY;
        out.push({ type: "refresh-token" });
        return out;
      }
      out.push({
        type: "log",
        level: "error",
        event: "forward-failed",
        fields: { code: verdict.error.code, message: verdict.error.message },
      });
      this.stop(verdict.error, out);
      this.settleDrain(out);
      return out;
    }
    this.attempt += 1;
    this.failingSince ??= now;
    this.stats.retries += 1;
    out.push({ type: "spill-all" });
    if (now - this.failingSince > this.options.giveUpAfterMs) {
      this.abandon({ failingForMs: now - this.failingSince }, out);
      return out;
    }
    // Backoff grows to its ceiling but never gives up while the outbox has room: the bound on buffered
    // audio, not an attempt count, decides when a call must end.
    const delay =
      verdict.retryAfterMs !== undefined
        ? Math.min(verdict.retryAfterMs, defaultRetryPolicy.maxServerDelayMs)
        : backoffDelayMs(this.attempt, defaultRetryPolicy, this.options.random ?? Math.random);
    out.push({
      type: "log",
      level: "warn",
      event: "forward-retry",
      fields: {
        attempt: this.attempt,
        delayMs: delay,
        batches: this.outbox.count,
        error: err instanceof Error ? err.message.slice(0, 200) : String(err),
      },
    });
    this.waitingUntil = now + Math.max(delay, 1);
    out.push({ type: "retry-at", at: this.waitingUntil });
    return out;
  }

  /**
   * Drops everything held, the only way audio is ever dropped: after giveUpAfterMs of failures, or of a
   * service that answers without ever acknowledging. Counted in the log; the call's delivery ends.
   */
  private abandon(why: Record<string, unknown>, out: ForwardEffect[]): void {
    out.push({
      type: "log",
      level: "error",
      event: "forward-abandoned",
      fields: { batches: this.outbox.count, samples: this.outbox.sizeInSamples, ...why },
    });
    this.outbox.clear();
    out.push({
      type: "unspill",
      upTo: { external: Number.MAX_SAFE_INTEGER, internal: Number.MAX_SAFE_INTEGER },
    });
    const error = new ForwardError("ERR_TRANSCRIBER_UNAVAILABLE", "transcription service unreachable");
    if (this.stopped) this.stopped = error;
    else this.stop(error, out);
    this.settleDrain(out);
  }

  /** The fresh token is in (or could not be had: then the next attempt fails for good). */
  tokenRefreshed(now: number): ForwardEffect[] {
    this.waitingUntil = null;
    const out: ForwardEffect[] = [];
    this.pump(now, out);
    return out;
  }
}
