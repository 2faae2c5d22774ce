// One media-api participant stream: validates each JSON frame, puts frames back in sequence order,
// reports gaps and duplicates, and turns audio into 8 kHz PCM for the shared pipeline.

import type { MediaFormat } from "../media/format";
import type { PcmChunk } from "../media/frames";
import { MULAW_TABLE } from "../media/pcmu";
import { BadFrameCounter } from "./bad-frames";
import { type FrameErrorCode, type MediaApiFrame, parseMediaFrame } from "./frames";
import { DEFAULT_MAX_JUMP_FRAMES, SequenceReorderer } from "./reorder";

/** The pipeline runs at the telephone rate; 16 kHz frames are brought down to it. */
const PIPELINE_RATE = 8000;
const MEDIA: MediaFormat = { format: "L16", channels: ["external"], rate: PIPELINE_RATE };

export interface StreamCheckpoint {
  /** Next sequence number expected (undefined until the first frame). */
  next: number | undefined;
  /** Stream timeline position in 8 kHz samples, gaps included. */
  positionSamples: number;
  /** Samples per frame last seen, to size the silence a gap stands for. */
  lastFrameSamples: number;
  gaps: number;
  missing: number;
  /** Late and duplicate frames dropped. */
  duplicates: number;
}

export type StreamOutput =
  | { type: "audio"; chunk: PcmChunk; sequence: number }
  | { type: "gap"; from: number; to: number; samples: number }
  | { type: "reply"; frame: { type: "error"; code: string; reason: string; sequenceNumber?: number } }
  | { type: "close"; code: number; reason: string }
  /** A frame was accepted and held for reordering (the shell persists it until it is emitted). */
  | { type: "held"; sequence: number };

export interface StreamIdentity {
  conversationId: string;
  participantId: string;
}

export class MediaApiStream {
  private readonly reorderer: SequenceReorderer<MediaApiFrame>;
  private readonly badFrames = new BadFrameCounter(20);
  private checkpoint: StreamCheckpoint;

  constructor(
    private readonly identity: StreamIdentity,
    checkpoint?: StreamCheckpoint,
    windowFrames = 8,
    private readonly maxJumpFrames = DEFAULT_MAX_JUMP_FRAMES,
  ) {
    this.checkpoint = checkpoint ?? {
      next: undefined,
      positionSamples: 0,
      lastFrameSamples: 0,
      gaps: 0,
      missing: 0,
      duplicates: 0,
    };
    this.reorderer = new SequenceReorderer<MediaApiFrame>({
      windowFrames,
      maxJumpFrames,
      ...(this.checkpoint.next !== undefined ? { firstSequence: this.checkpoint.next } : {}),
    });
  }

  /** Whether a frame has fixed where the stream's sequence starts. */
  get started(): boolean {
    return this.reorderer.next !== undefined;
  }

  /** Plain JSON to persist after each frame. */
  state(): StreamCheckpoint {
    return { ...this.checkpoint, next: this.reorderer.next };
  }

  receive(text: string): StreamOutput[] {
    const parsed = parseMediaFrame(text);
    if (!parsed.ok) return this.reject(parsed.code, parsed.reason);
    const frame = parsed.frame;
    if (
      frame.conversationId !== this.identity.conversationId ||
      frame.participantId !== this.identity.participantId
    ) {
      return this.reject(
        "ERR_FRAME_WRONG_STREAM",
        "conversationId/participantId differ from the ones this socket was opened for",
        frame.sequenceNumber,
      );
    }
    const events = this.reorderer.push(frame.sequenceNumber, frame);
    const dropped = events.find((e) => e.type === "dropped");
    if (dropped?.why === "out-of-range") {
      return this.reject(
        "ERR_FRAME_BAD_SEQUENCE",
        `sequenceNumber ${frame.sequenceNumber} is more than ${this.maxJumpFrames} past the next expected (${this.reorderer.next}); frame dropped`,
        frame.sequenceNumber,
      );
    }
    // A late or duplicate frame is dropped and answered, but is no bad frame: a resend after a lost
    // acknowledgement is normal. Nor does it forgive a run of bad ones: only a frame we take does.
    if (dropped === undefined) this.badFrames.good();
    return this.settle(frame, events);
  }

  /** Binary frames are not part of the media-api: answered like any other bad frame. */
  receiveBinary(): StreamOutput[] {
    return this.reject("ERR_FRAME_BINARY", "media-api frames are JSON text; binary frames are not accepted");
  }

  /** Re-feeds a frame persisted while it was held (after the object was evicted). */
  restore(text: string): StreamOutput[] {
    const parsed = parseMediaFrame(text);
    return parsed.ok ? this.accept(parsed.frame) : [];
  }

  /** At close: releases what is held and reports the trailing gaps. */
  flush(): StreamOutput[] {
    return this.translate(this.reorderer.flush());
  }

  private accept(frame: MediaApiFrame): StreamOutput[] {
    return this.settle(frame, this.reorderer.push(frame.sequenceNumber, frame));
  }

  private settle(
    frame: MediaApiFrame,
    events: ReturnType<SequenceReorderer<MediaApiFrame>["push"]>,
  ): StreamOutput[] {
    const out = this.translate(events);
    const emitted = out.some((o) => o.type === "audio" && o.sequence === frame.sequenceNumber);
    const dropped = events.some((e) => e.type === "dropped");
    if (!emitted && !dropped) out.push({ type: "held", sequence: frame.sequenceNumber });
    return out;
  }

  private reject(
    code: FrameErrorCode | "ERR_FRAME_WRONG_STREAM" | "ERR_FRAME_BINARY",
    reason: string,
    sequenceNumber?: number,
  ): StreamOutput[] {
    const reply: StreamOutput = {
      type: "reply",
      frame: { type: "error", code, reason, ...(sequenceNumber !== undefined ? { sequenceNumber } : {}) },
    };
    const verdict = this.badFrames.bad();
    return verdict.close ? [reply, { type: "close", code: verdict.code, reason: verdict.reason }] : [reply];
  }

  private translate(events: ReturnType<SequenceReorderer<MediaApiFrame>["push"]>): StreamOutput[] {
    const out: StreamOutput[] = [];
    for (const event of events) {
      if (event.type === "dropped") {
        // Out-of-range numbers are answered by receive() as bad frames.
        if (event.why === "out-of-range") continue;
        this.checkpoint.duplicates += 1;
        out.push({
          type: "reply",
          frame: {
            type: "error",
            code: event.why === "late" ? "ERR_FRAME_LATE" : "ERR_FRAME_DUPLICATE",
            reason:
              event.why === "late"
                ? "frame arrived after its gap was reported; dropped"
                : "duplicate frame dropped",
            sequenceNumber: event.sequence,
          },
        });
      } else if (event.type === "gap") {
        // The timeline keeps the missing audio's place, so later positions stay true.
        const samples = (event.to - event.from + 1) * this.checkpoint.lastFrameSamples;
        this.checkpoint.positionSamples += samples;
        this.checkpoint.gaps += 1;
        this.checkpoint.missing += event.to - event.from + 1;
        out.push({ type: "gap", from: event.from, to: event.to, samples });
      } else {
        const pcm = toPipelinePcm(event.item);
        out.push({
          type: "audio",
          sequence: event.sequence,
          chunk: { media: MEDIA, channels: [pcm], startSample: this.checkpoint.positionSamples },
        });
        this.checkpoint.positionSamples += pcm.length;
        this.checkpoint.lastFrameSamples = pcm.length;
      }
    }
    return out;
  }
}

/** µ-law or big-endian L16 at 8 or 16 kHz → 8 kHz Int16 PCM. */
export function toPipelinePcm(frame: MediaApiFrame): Int16Array {
  const pcm = new Int16Array(frame.samples);
  if (frame.format === "PCMU") {
    for (let i = 0; i < pcm.length; i++) pcm[i] = MULAW_TABLE[frame.audio[i] as number] as number;
  } else {
    const view = new DataView(frame.audio.buffer, frame.audio.byteOffset, frame.audio.byteLength);
    for (let i = 0; i < pcm.length; i++) pcm[i] = view.getInt16(2 * i, false);
  }
  if (frame.sampleRate === PIPELINE_RATE) return pcm;
  // 16 kHz → 8 kHz: average each pair (a two-tap low-pass), enough for the telephone band we keep.
  const half = new Int16Array(Math.floor(pcm.length / 2));
  for (let i = 0; i < half.length; i++) half[i] = ((pcm[2 * i] as number) + (pcm[2 * i + 1] as number)) >> 1;
  return half;
}
