// The media-api side of a CallSession: the stream's record (identity, reorder checkpoint), the frames held
// back for reordering (in SQLite, written only while a frame waits for a missing predecessor), and what
// each frame turns into, handed to the shell's sink. The shell owns the socket and the pipeline.

import type { CallStart } from "../audiohook/session";
import { SUPPORTED_RATE } from "../media/format";
import type { PcmChunk } from "../media/frames";
import { parseMediaFrame } from "../mediaapi/frames";
import { MediaApiStream, type StreamCheckpoint, type StreamOutput } from "../mediaapi/stream";
import type { CallHandoff } from "./handoff";
import { mediaApiSessionId } from "./handoff";
import type { CallStorage } from "./storage";

export interface MediaApiRecord {
  /** Null until the first frame names the stream (an upgrade without the query parameters). */
  conversationId: string | null;
  participantId: string | null;
  connectionId: string | null;
  language: string | null;
  checkpoint: StreamCheckpoint | undefined;
  ended: boolean;
  /** Connections this stream has had (a reconnect continues it). */
  connections: number;
  /** The downstream session was ended: no reconnect came within the retention. */
  finished: boolean;
}

/** Where a frame's outcome goes: the shell forwards audio and gaps, and talks to the socket. */
export interface MediaApiSink {
  /** The stream is named (at the upgrade, or by its first frame): downstream can start. */
  started(call: CallStart): void;
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
    storage.define(
      "CREATE TABLE IF NOT EXISTS held_frames (sequence INTEGER PRIMARY KEY, frame TEXT NOT NULL)",
    );
  }

  /** Whether the stream has taken a frame (its first sequence number is known). */
  get started(): boolean {
    return this.stream?.started ?? this.current?.checkpoint?.next !== undefined;
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

  /** A new stream: what the pipeline must start with, once the stream is named. */
  accept(handoff: Extract<CallHandoff, { protocol: "media-api" }>, sink: MediaApiSink): void {
    this.current = {
      conversationId: handoff.conversationId,
      participantId: handoff.participantId,
      connectionId: handoff.connectionId ?? null,
      language: handoff.language,
      checkpoint: undefined,
      ended: false,
      connections: 1,
      finished: false,
    };
    this.startIfNamed(sink);
  }

  /**
   * The client reconnected to a stream whose socket is gone: it carries on. The checkpoint keeps the next
   * sequence number expected, so frames the earlier connection delivered are dropped as duplicates.
   */
  reopen(): boolean {
    if (!this.current?.ended || this.current.finished) return false;
    this.current = { ...this.current, ended: false, connections: this.current.connections + 1 };
    return true;
  }

  private startIfNamed(sink: MediaApiSink): void {
    const r = this.current;
    if (!r?.conversationId || !r.participantId) return;
    sink.started({
      sessionId: mediaApiSessionId(r.conversationId, r.participantId, r.connectionId ?? undefined),
      conversationId: r.conversationId,
      participantId: r.participantId,
      probe: false,
      media: { format: "L16", channels: ["external"], rate: SUPPORTED_RATE },
      language: r.language,
      customConfig: null,
    });
  }

  message(message: string | ArrayBuffer, sink: MediaApiSink): void {
    const record = this.current;
    if (!record || record.ended) return;
    if (record.conversationId === null && typeof message === "string") {
      // The first well-formed frame names the stream; until then frames are answered as bad frames.
      const parsed = parseMediaFrame(message);
      if (parsed.ok) {
        this.current = {
          ...record,
          conversationId: parsed.frame.conversationId,
          participantId: parsed.frame.participantId,
        };
        this.stream = null;
        this.startIfNamed(sink);
        sink.log("info", "stream-named", { conversationId: parsed.frame.conversationId });
      }
    }
    const named = this.current as MediaApiRecord;
    const stream = this.streamFor(named, sink);
    const outputs = typeof message === "string" ? stream.receive(message) : stream.receiveBinary();
    this.perform(outputs, sink, typeof message === "string" ? message : undefined);
  }

  /** No reconnect came: the downstream session ends now. False if it already had. */
  finish(): boolean {
    if (!this.current || this.current.finished) return false;
    this.current = { ...this.current, ended: true, finished: true };
    return true;
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
    // An unnamed stream's frames all fail the identity check: they are answered as bad frames.
    const identity = {
      conversationId: record.conversationId ?? "",
      participantId: record.participantId ?? "",
    };
    const stream = new MediaApiStream(identity, record.checkpoint);
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
