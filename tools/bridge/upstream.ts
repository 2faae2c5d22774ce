// One call channel's stream to the seed service: chunks go out in sequence order on one bidirectional
// StreamAudio call; every chunk stays in memory until the service acknowledges it (a result's
// sequence_number, or the clean end of a stream the bridge half-closed), so a broken stream is reopened and
// resumed from the last acknowledged sequence, and a refusal or an outage is waited out with backoff.
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { backoffDelayMs, classifyError, type RetryPolicy } from "../../src/forward/retry.js";
import type {
  AudioChunk as SeedChunk,
  TranscriptResult as SeedResult,
  TranscriptionService as SeedService,
} from "../../src/gen/seed/transcription_pb.js";
import { PushQueue } from "./queue.js";

export type Log = (event: string, fields?: Record<string, unknown>) => void;

export interface UpstreamOptions {
  client: Client<typeof SeedService>;
  /** For log lines: the langhook session and the seed stream's names. */
  labels: { session: string; conversation: string; participant: string };
  /** Backoff between attempts; attempts are not limited (the channel lives as long as its call). */
  retry: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs" | "maxServerDelayMs">;
  log: Log;
  /** Every result, in order, after `acked` has moved past its sequence number. */
  onResult: (result: SeedResult) => void;
  /** The service refused in a way retrying cannot fix (e.g. UNAUTHENTICATED): the channel stops. */
  onFatal: (error: ConnectError) => void;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface UpstreamStats {
  received: number;
  acked: number;
  held: number;
  /** Audio held, in samples. */
  heldSamples: number;
  streams: number;
  retries: number;
}

interface LiveStream {
  input: PushQueue<SeedChunk>;
  /** Highest sequence written to this stream. */
  sentUpTo: number;
}

export class ChannelUpstream {
  /** Highest sequence accepted from langhook (duplicates at or below it are dropped). */
  received = 0;
  /** Highest sequence the service acknowledged: everything at or below it may be forgotten. */
  acked = 0;
  #held: SeedChunk[] = [];
  /** The last chunk acknowledged, to name a stream that has nothing else to carry (see #stream). */
  #lastAcked: SeedChunk | null = null;
  #heldSamples = 0;
  #live: LiveStream | null = null;
  /** A flush asked for the stream to be half-closed once everything held is written. */
  #ending = false;
  #flushWaiters: (() => void)[] = [];
  #ackWaiters: { sequence: number; resolve: () => void }[] = [];
  #wake: (() => void) | null = null;
  #stopped = false;
  readonly #abort = new AbortController();
  readonly #options: UpstreamOptions;
  readonly #done: Promise<void>;
  #stats = { streams: 0, retries: 0 };
  /** The current stream moved the acknowledgement forward. */
  #progressed = false;

  constructor(options: UpstreamOptions) {
    this.#options = options;
    this.#done = this.#run();
  }

  /** Takes a chunk for the service; false for a duplicate (at or below one already taken). */
  offer(chunk: SeedChunk): boolean {
    if (this.#stopped || chunk.sequenceNumber <= this.received) return false;
    this.received = chunk.sequenceNumber;
    this.#held.push(chunk);
    this.#heldSamples += samplesIn(chunk);
    const live = this.#live;
    if (live !== null && !this.#ending && !live.input.ended) {
      live.input.push(chunk);
      live.sentUpTo = chunk.sequenceNumber;
    }
    this.#wake?.();
    return true;
  }

  /**
   * Half-closes the stream so the service finalizes its utterances, and resolves once it has
   * acknowledged everything taken so far (a stream it ends cleanly after the half-close acknowledges all
   * it was sent). Chunks offered meanwhile go out on a new stream afterwards.
   */
  flush(): Promise<void> {
    if (this.#stopped || (this.#live === null && this.#held.length === 0)) return Promise.resolve();
    this.#ending = true;
    this.#live?.input.end();
    this.#wake?.();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /** Resolves once `sequence` is acknowledged (or the channel stopped). */
  acknowledged(sequence: number): Promise<void> {
    if (this.acked >= sequence || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#ackWaiters.push({ sequence, resolve }));
  }

  /** Stops at once: the stream is canceled and held chunks are dropped (the call is over). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#wake?.();
    this.#settle(true);
    await this.#done;
  }

  /** Audio held for the service, in samples. */
  get heldSamples(): number {
    return this.#heldSamples;
  }

  stats(): UpstreamStats {
    return {
      received: this.received,
      acked: this.acked,
      held: this.#held.length,
      heldSamples: this.#heldSamples,
      ...this.#stats,
    };
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      if (this.#held.length === 0 && !this.#ending) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
        continue;
      }
      // A flush whose stream broke still gets a stream to half-close, even with every chunk acknowledged:
      // a service resuming the conversation then sends the text of the utterance it had in progress.
      this.#progressed = false;
      try {
        await this.#stream();
        attempt = this.#progressed ? 0 : attempt + 1;
        if (!this.#progressed) await this.#backoff(attempt, undefined);
      } catch (err) {
        this.#live = null;
        if (this.#stopped) break;
        // A stream that got somewhere before breaking starts the backoff over.
        if (this.#progressed) attempt = 0;
        const ce = ConnectError.from(err);
        // Canceled is langhook's own abort in classifyError; here we did not abort (stop() returned above),
        // so it is the service or the network that reset the stream (a server shutting down does): retry.
        const cls = classifyError(
          ce.code === Code.Canceled ? new ConnectError(ce.rawMessage, Code.Unavailable) : ce,
        );
        if (!cls.retryable) {
          this.#options.log("upstream-refused", {
            ...this.#options.labels,
            code: Code[ce.code],
            error: ce.rawMessage,
          });
          this.#stopped = true;
          this.#settle(true);
          this.#options.onFatal(ce);
          break;
        }
        attempt += 1;
        await this.#backoff(attempt, cls.retryAfterMs, ce);
      }
    }
  }

  /**
   * One StreamAudio call: writes every held chunk, then new ones as they come, and reads results until
   * the stream ends. Throws how the stream failed.
   */
  async #stream(): Promise<void> {
    const input = new PushQueue<SeedChunk>();
    const live: LiveStream = { input, sentUpTo: this.acked };
    for (const chunk of this.#held) {
      input.push(chunk);
      live.sentUpTo = chunk.sequenceNumber;
    }
    // A seed stream is named only by its chunks' conversation and participant: a stream reopened only to be
    // half-closed carries the last acknowledged chunk again, which the service ignores as a duplicate (as it
    // must ignore any resent chunk) but which tells it which conversation it is finishing.
    const marker = this.#held.length === 0 ? this.#lastAcked : null;
    if (marker !== null) input.push(marker);
    const ending = this.#ending;
    if (ending) input.end();
    this.#live = live;
    this.#stats.streams += 1;
    const resumedFrom = this.acked;
    this.#options.log("upstream-open", {
      ...this.#options.labels,
      resumeAfter: resumedFrom,
      resend: this.#held.length,
      marker: marker?.sequenceNumber,
    });
    for await (const result of this.#options.client.streamAudio(input, { signal: this.#abort.signal })) {
      this.#ack(result.sequenceNumber, live.sentUpTo);
      this.#options.onResult(result);
    }
    this.#live = null;
    if (input.ended && this.#ending) {
      // A clean end after our half-close: the service has processed everything it was sent.
      this.#ack(live.sentUpTo, live.sentUpTo);
      this.#progressed = true;
      this.#ending = false;
      this.#options.log("upstream-flushed", { ...this.#options.labels, acked: this.acked });
      this.#settle(false);
      return;
    }
    // Ended without being asked: whatever it had not acknowledged is sent again on a new stream.
    this.#options.log("upstream-ended-early", {
      ...this.#options.labels,
      acked: this.acked,
      held: this.#held.length,
    });
    input.end();
  }

  /** Moves the acknowledgement forward, never past `sent` (that would drop audio the service never had). */
  #ack(sequence: number, sent: number): void {
    const to = Math.min(sequence, sent);
    if (to <= this.acked) return;
    this.acked = to;
    this.#progressed = true;
    while (this.#held.length > 0 && (this.#held[0] as SeedChunk).sequenceNumber <= this.acked) {
      const done = this.#held.shift() as SeedChunk;
      this.#heldSamples -= samplesIn(done);
      this.#lastAcked = done;
    }
    this.#ackWaiters = this.#ackWaiters.filter((w) => {
      if (w.sequence > this.acked) return true;
      w.resolve();
      return false;
    });
  }

  #settle(all: boolean): void {
    for (const resolve of this.#flushWaiters.splice(0)) resolve();
    if (all) for (const w of this.#ackWaiters.splice(0)) w.resolve();
  }

  async #backoff(attempt: number, serverDelayMs: number | undefined, error?: ConnectError): Promise<void> {
    const policy = this.#options.retry;
    const delayMs =
      serverDelayMs !== undefined
        ? Math.min(serverDelayMs, policy.maxServerDelayMs)
        : backoffDelayMs(
            attempt,
            { ...policy, maxAttempts: 0, maxElapsedMs: 0 },
            this.#options.random ?? Math.random,
          );
    this.#stats.retries += 1;
    this.#options.log("upstream-retry", {
      ...this.#options.labels,
      attempt,
      delayMs,
      code: error === undefined ? "ended-early" : Code[error.code],
      error: error?.rawMessage,
      acked: this.acked,
      held: this.#held.length,
    });
    await (this.#options.sleep ?? sleep)(delayMs, this.#abort.signal);
  }
}

/** Samples in a seed chunk (PCMU: a byte each, L16: two). */
function samplesIn(chunk: SeedChunk): number {
  return chunk.audioFormat === "PCMU" ? chunk.audioData.byteLength : chunk.audioData.byteLength >> 1;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
