// One langhook session inside the bridge: its two channels' seed streams, the results waiting for langhook
// to confirm them (by last_result_sequence_number), and what langhook is told has been acknowledged.
import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  type AudioChunk,
  type ChannelAck,
  ChannelAckSchema,
  type TranscriptResult,
} from "../../src/gen/langhook/transcription/v1/transcription_pb.js";
import type { TranscriptionService as SeedService } from "../../src/gen/seed/transcription_pb.js";
import {
  type BridgeChannel,
  channelOf,
  type ParticipantNaming,
  participantOf,
  samplesOf,
  Timeline,
  toLanghookResult,
  toSeedChunk,
} from "./mapping.js";
import { ChannelUpstream, type Log, type UpstreamOptions, type UpstreamStats } from "./upstream.js";

/**
 * What langhook is told has been acknowledged:
 * - "upstream" (default): only what the seed service acknowledged. Nothing is lost whatever fails, the
 *   bridge included; needs a service that acknowledges promptly (a result, with or without text, for each
 *   chunk or every few), because langhook resends its oldest unacknowledged audio before newer audio.
 * - "received": what the bridge holds in memory. Upstream breaks, refusals and outages still lose nothing
 *   (held chunks are resent from the service's last acknowledgement), but a bridge that dies loses what it
 *   held; for a service that acknowledges only when an utterance ends.
 */
export type AckMode = "upstream" | "received";

export interface SessionOptions {
  client: Client<typeof SeedService>;
  naming: ParticipantNaming;
  ackMode: AckMode;
  /** Audio held per channel for the service, in seconds, before new chunks are refused. */
  maxHeldSeconds: number;
  retry: UpstreamOptions["retry"];
  log: Log;
}

interface Channel {
  upstream: ChannelUpstream;
  timeline: Timeline;
}

export class BridgeSession {
  readonly id: string;
  conversationId = "";
  #customerId = "";
  #channels = new Map<BridgeChannel, Channel>();
  #results: TranscriptResult[] = [];
  #nextResult = 1;
  #fatal: ConnectError | null = null;
  #listeners = new Set<(r: TranscriptResult) => void>();
  ended = false;
  lastActive = Date.now();
  readonly #options: SessionOptions;

  constructor(id: string, options: SessionOptions) {
    this.id = id;
    this.#options = options;
  }

  /** Takes langhook chunks (in order per channel; duplicates dropped). Throws the service's refusal, if any. */
  accept(chunks: readonly AudioChunk[]): void {
    this.lastActive = Date.now();
    this.#throwIfFailed();
    for (const chunk of chunks) {
      if (chunk.sessionId !== "" && chunk.sessionId !== this.id) {
        throw new ConnectError(
          `chunk of session ${chunk.sessionId} in a request for ${this.id}`,
          Code.InvalidArgument,
        );
      }
      if (this.conversationId === "") this.conversationId = chunk.conversationId;
      if (this.#customerId === "") this.#customerId = chunk.participantId;
      const channel = this.#channel(channelOf(chunk));
      const participantId = participantOf(channelOf(chunk), this.#customerId, this.#options.naming);
      const seed = toSeedChunk(chunk, { conversationId: this.conversationId || this.id, participantId });
      const rate = chunk.sampleRate || 8000;
      if (
        seed.sequenceNumber > channel.upstream.received &&
        channel.upstream.heldSamples + samplesOf(chunk) > this.#options.maxHeldSeconds * rate
      ) {
        // The service is behind (or down) by more than the bridge will hold: the client keeps the audio and
        // sends it again later; what was taken before this chunk stays taken.
        throw new ConnectError(
          `the bridge already holds ${this.#options.maxHeldSeconds} s of audio the service has not acknowledged`,
          Code.ResourceExhausted,
          { "retry-after-ms": "1000" },
        );
      }
      if (channel.upstream.offer(seed)) channel.timeline.add(chunk);
    }
  }

  /** What langhook may drop, per channel seen (see AckMode). */
  acks(): ChannelAck[] {
    return [...this.#channels].map(([channel, { upstream }]) =>
      create(ChannelAckSchema, {
        channel,
        sequenceNumber: BigInt(this.#options.ackMode === "upstream" ? upstream.acked : upstream.received),
      }),
    );
  }

  /** Waits up to `ms` for the service to acknowledge what langhook sent (upstream mode only). */
  async settle(chunks: readonly AudioChunk[], ms: number): Promise<void> {
    if (this.#options.ackMode !== "upstream" || ms <= 0) return;
    const highest = new Map<BridgeChannel, number>();
    for (const c of chunks) {
      const channel = channelOf(c);
      highest.set(channel, Math.max(highest.get(channel) ?? 0, Number(c.sequenceNumber)));
    }
    const waits = [...highest].map(([channel, sequence]) =>
      this.#channels.get(channel)?.upstream.acknowledged(sequence),
    );
    await withTimeout(Promise.all(waits), ms);
  }

  /** Finalizes every channel's utterances and waits up to `ms` for the service to finish. */
  async flush(ms: number): Promise<void> {
    this.lastActive = Date.now();
    this.#throwIfFailed();
    await withTimeout(Promise.all([...this.#channels.values()].map((c) => c.upstream.flush())), ms);
    this.#throwIfFailed();
  }

  /** Finalizes only the given channels' utterances (end_of_utterance), without waiting. */
  endUtterance(channels: Iterable<BridgeChannel>): void {
    for (const channel of channels) void this.#channels.get(channel)?.upstream.flush();
  }

  get flushed(): boolean {
    return [...this.#channels.values()].every(({ upstream }) => upstream.stats().held === 0);
  }

  /** Results after `cursor`; those at or below it were received by langhook and are forgotten. */
  resultsAfter(cursor: number): TranscriptResult[] {
    this.#results = this.#results.filter((r) => Number(r.sequenceNumber) > cursor);
    return [...this.#results];
  }

  /** Each new result as it is made (for StreamAudio). */
  subscribe(listener: (r: TranscriptResult) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async end(): Promise<void> {
    this.ended = true;
    await Promise.all([...this.#channels.values()].map((c) => c.upstream.stop()));
  }

  stats(): Record<string, UpstreamStats> {
    return Object.fromEntries(
      [...this.#channels].map(([channel, c]) => [
        channel === 1 ? "EXTERNAL" : "INTERNAL",
        c.upstream.stats(),
      ]),
    );
  }

  #throwIfFailed(): void {
    if (this.#fatal !== null) throw this.#fatal;
  }

  #channel(channel: BridgeChannel): Channel {
    const existing = this.#channels.get(channel);
    if (existing !== undefined) return existing;
    const participant = participantOf(channel, this.#customerId, this.#options.naming);
    const timeline = new Timeline();
    const upstream = new ChannelUpstream({
      client: this.#options.client,
      labels: { session: this.id, conversation: this.conversationId || this.id, participant },
      retry: this.#options.retry,
      log: this.#options.log,
      onResult: (seed) => {
        if (seed.text === "") return;
        const span = timeline.close(seed.sequenceNumber);
        const result = toLanghookResult(seed, span, channel, {
          sessionId: this.id,
          conversationId: this.conversationId,
          resultSequence: this.#nextResult++,
        });
        this.#results.push(result);
        this.#options.log("result", {
          session: this.id,
          participant,
          sequence: seed.sequenceNumber,
          resultSequence: Number(result.sequenceNumber),
          offsetMs: Math.round(span.offsetMs),
          durationMs: Math.round(span.durationMs),
        });
        for (const listener of this.#listeners) listener(result);
      },
      onFatal: (error) => {
        // Retrying cannot fix it (the service refused the bridge's credentials or the audio): langhook
        // gets a FAILED_PRECONDITION on its next call, so it ends the call instead of retrying.
        this.#fatal = new ConnectError(
          `seed service refused the stream: ${Code[error.code]}: ${error.rawMessage}`,
          Code.FailedPrecondition,
        );
      },
    });
    const created = { upstream, timeline };
    this.#channels.set(channel, created);
    return created;
  }
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
