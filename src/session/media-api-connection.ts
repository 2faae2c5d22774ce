// The media-api side of a CallSession: the stream's record (identity, reorder checkpoint), the frames held
// back for reordering (in SQLite, written only while a frame waits for a missing predecessor), and what
// each frame turns into, handed to the shell's sink. The shell owns the socket and the pipeline.

import type { CallStart } from "../audiohook/session";
import { SUPPORTED_RATE } from "../media/format";
import type { PcmChunk } from "../media/frames";
import { MediaApiStream, type StreamCheckpoint, type StreamOutput } from "../mediaapi/stream";
import type { CallHandoff } from "./handoff";
import { mediaApiSessionId } from "./handoff";
import type { CallStorage } from "./storage";

export interface MediaApiRecord {
  conversationId: string;
  participantId: string;
  language: string | null;
  checkpoint: StreamCheckpoint | undefined;
  ended: boolean;
}

/** Where a frame's outcome goes: the shell forwards audio and gaps, and talks to the socket. */
export interface MediaApiSink {
  audio(chunk: PcmChunk): void;
  gap(samples: number): void;
  send(frame: unknown): void;
  close(code: number, reason: string): void;
  log(level: "info" | "warn", event: string, fields: Record<string, unknown>): void;
}

export class MediaApiConnection {
  private stream: MediaApiStream | null = null;
  /** Sequences with a row in held_frames: only their emission costs a delete. */
  private readonly held = new Set<number>();

  constructor(
    private readonly storage: CallStorage,
    private current: MediaApiRecord | null,
  ) {
    storage.exec(
      "CREATE TABLE IF NOT EXISTS held_frames (sequence INTEGER PRIMARY KEY, frame TEXT NOT NULL)",
    );
  }

  /** The stream's record (plain JSON for the call record), with the reorder checkpoint up to date. */
  record(): MediaApiRecord | null {
    if (this.current && this.stream) this.current = { ...this.current, checkpoint: this.stream.state() };
    return this.current;
  }

  /** Storage was erased (the call's retention ended). */
  forget(): void {
    this.current = null;
    this.stream = null;
    this.held.clear();
  }

  /** A new stream: what the pipeline must start with (its single, customer, channel). */
  accept(handoff: Extract<CallHandoff, { protocol: "media-api" }>): CallStart {
    this.current = {
      conversationId: handoff.conversationId,
      participantId: handoff.participantId,
      language: handoff.language,
      checkpoint: undefined,
      ended: false,
    };
    return {
      sessionId: mediaApiSessionId(handoff.conversationId, handoff.participantId),
      conversationId: handoff.conversationId,
      participantId: handoff.participantId,
      probe: false,
      media: { format: "L16", channels: ["external"], rate: SUPPORTED_RATE },
      language: handoff.language,
      customConfig: null,
    };
  }

  message(message: string | ArrayBuffer, sink: MediaApiSink): void {
    const record = this.current;
    if (!record || record.ended) return;
    const stream = this.streamFor(record, sink);
    const outputs = typeof message === "string" ? stream.receive(message) : stream.receiveBinary();
    this.perform(outputs, sink, typeof message === "string" ? message : undefined);
  }

  /** media-api has no close handshake: release what was held for reordering. False if already ended. */
  end(sink: MediaApiSink): boolean {
    const record = this.current;
    if (!record || record.ended) return false;
    const stream = this.streamFor(record, sink);
    this.perform(stream.flush(), sink);
    this.current = { ...record, ended: true, checkpoint: stream.state() };
    return true;
  }

  /** The stream, rebuilt after a wake-up from its checkpoint and the frames it held. */
  private streamFor(record: MediaApiRecord, sink: MediaApiSink): MediaApiStream {
    if (this.stream) return this.stream;
    const stream = new MediaApiStream(record, record.checkpoint);
    this.stream = stream;
    const held = this.storage
      .exec<{ sequence: number; frame: string }>("SELECT sequence, frame FROM held_frames ORDER BY sequence")
      .toArray();
    // Frames that were waiting for a missing predecessor when the object was evicted wait again.
    for (const { sequence } of held) this.held.add(sequence);
    for (const { frame } of held) this.perform(stream.restore(frame), sink);
    return stream;
  }

  private perform(outputs: StreamOutput[], sink: MediaApiSink, text?: string): void {
    for (const out of outputs) {
      switch (out.type) {
        case "audio":
          sink.audio(out.chunk);
          if (this.held.delete(out.sequence))
            this.storage.exec("DELETE FROM held_frames WHERE sequence = ?", out.sequence);
          break;
        case "held":
          if (text !== undefined) {
            this.held.add(out.sequence);
            this.storage.exec(
              "INSERT OR REPLACE INTO held_frames (sequence, frame) VALUES (?, ?)",
              out.sequence,
              text,
            );
          }
          break;
        case "gap":
          sink.log("warn", "sequence-gap", { from: out.from, to: out.to, missingSamples: out.samples });
          // Reported to the client too: a gap is never hidden.
          sink.send({ type: "gap", from: out.from, to: out.to });
          sink.gap(out.samples);
          break;
        case "reply":
          sink.send(out.frame);
          break;
        case "close":
          sink.log("warn", "closing-bad-stream", { code: out.code, reason: out.reason });
          sink.close(out.code, out.reason);
          break;
      }
    }
  }
}
