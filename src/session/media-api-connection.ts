// The media-api side of a CallSession: its stream state in SQLite (checkpoint, frames held for
// reordering), what each frame turns into, and the end of the stream. The object stays the shell.

import type { Logger } from "../log";
import { SUPPORTED_RATE } from "../media/format";
import { MediaApiStream, type StreamCheckpoint, type StreamOutput } from "../mediaapi/stream";
import type { CallHandoff } from "./handoff";
import { mediaApiSessionId } from "./handoff";
import type { CallPipeline } from "./pipeline";
import { trySend } from "./socket";

export interface MediaApiRecord {
  conversationId: string;
  participantId: string;
  language: string | null;
  checkpoint: StreamCheckpoint | undefined;
  ended: boolean;
}

export interface MediaApiHost {
  sql: SqlStorage;
  load<T>(key: string): T | null;
  store(key: string, value: unknown): void;
  pipeline(): CallPipeline;
  log(): Logger;
}

const RECORD_KEY = "media-api";

export class MediaApiConnection {
  private stream: MediaApiStream | null = null;
  /** The stored record, read once: every message asks for it (undefined: not read yet). */
  private cached: MediaApiRecord | null | undefined;

  constructor(private readonly host: MediaApiHost) {
    host.sql.exec(
      "CREATE TABLE IF NOT EXISTS held_frames (sequence INTEGER PRIMARY KEY, frame TEXT NOT NULL)",
    );
  }

  /** The stored record when this object holds a media-api stream. */
  record(): MediaApiRecord | null {
    if (this.cached === undefined) this.cached = this.host.load<MediaApiRecord>(RECORD_KEY);
    return this.cached;
  }

  /** Storage was erased (the call's retention ended): read it afresh next time. */
  forget(): void {
    this.cached = undefined;
    this.stream = null;
  }

  private save(record: MediaApiRecord): void {
    this.cached = record;
    this.host.store(RECORD_KEY, record);
  }

  /** A new stream: remember it and start the pipeline with its single (customer) channel. */
  accept(handoff: Extract<CallHandoff, { protocol: "media-api" }>): void {
    const record: MediaApiRecord = {
      conversationId: handoff.conversationId,
      participantId: handoff.participantId,
      language: handoff.language,
      checkpoint: undefined,
      ended: false,
    };
    this.save(record);
    this.host.pipeline().start({
      sessionId: mediaApiSessionId(handoff.conversationId, handoff.participantId),
      conversationId: handoff.conversationId,
      participantId: handoff.participantId,
      probe: false,
      media: { format: "L16", channels: ["external"], rate: SUPPORTED_RATE },
      language: handoff.language,
      customConfig: null,
    });
  }

  message(ws: WebSocket, message: string | ArrayBuffer): void {
    const record = this.record();
    if (!record) return;
    const stream = this.streamFor(record);
    const outputs = typeof message === "string" ? stream.receive(message) : stream.receiveBinary();
    this.perform(ws, outputs, typeof message === "string" ? message : undefined);
    this.save({ ...record, checkpoint: stream.state() });
  }

  /** media-api has no close handshake: release what was held for reordering and end utterances. */
  async closed(): Promise<void> {
    const record = this.record();
    if (!record || record.ended) return;
    const stream = this.streamFor(record);
    this.perform(undefined, stream.flush());
    const pipeline = this.host.pipeline();
    pipeline.boundary("close", 0);
    this.save({ ...record, ended: true, checkpoint: stream.state() });
    await pipeline.flush();
  }

  /** The stream, rebuilt after a wake-up from its checkpoint and the frames it held. */
  private streamFor(record: MediaApiRecord): MediaApiStream {
    if (this.stream) return this.stream;
    const stream = new MediaApiStream(record, record.checkpoint);
    this.stream = stream;
    const held = this.host.sql
      .exec<{ frame: string }>("SELECT frame FROM held_frames ORDER BY sequence")
      .toArray();
    // Frames that were waiting for a missing predecessor when the object was evicted wait again.
    for (const { frame } of held) this.perform(undefined, stream.restore(frame));
    return stream;
  }

  private perform(ws: WebSocket | undefined, outputs: StreamOutput[], text?: string): void {
    const pipeline = this.host.pipeline();
    for (const out of outputs) {
      switch (out.type) {
        case "audio":
          pipeline.audio(out.chunk);
          this.host.sql.exec("DELETE FROM held_frames WHERE sequence = ?", out.sequence);
          break;
        case "held":
          if (text !== undefined) {
            this.host.sql.exec(
              "INSERT OR REPLACE INTO held_frames (sequence, frame) VALUES (?, ?)",
              out.sequence,
              text,
            );
          }
          break;
        case "gap":
          this.host
            .log()
            .log("warn", "sequence-gap", { from: out.from, to: out.to, missingSamples: out.samples });
          // Reported to the client too: a gap is never hidden.
          if (ws) trySend(ws, JSON.stringify({ type: "gap", from: out.from, to: out.to }));
          pipeline.gap(out.samples);
          break;
        case "reply":
          if (ws) trySend(ws, JSON.stringify(out.frame));
          break;
        case "close":
          this.host.log().log("warn", "closing-bad-stream", { code: out.code, reason: out.reason });
          ws?.close(out.code, out.reason);
          break;
      }
    }
  }
}
