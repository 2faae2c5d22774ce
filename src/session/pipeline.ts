// The stages after the protocol (detect → forward → transcripts back) behind one small interface,
// so the Durable Object shell does not know what runs downstream.

import type { BoundaryReason, CallStart } from "../audiohook/session";
import type { PcmChunk } from "../media/frames";

export interface CallPipeline {
  /** The call was opened (probe calls included: a pipeline sends nothing downstream for them). */
  start(call: CallStart): void;
  audio(chunk: PcmChunk): void;
  /** Utterances in progress end at this position. */
  boundary(reason: BoundaryReason, positionSamples: number): void;
  language(language: string | null): void;
  /** The sender lost this much audio (a media-api sequence gap): utterances end, and downstream sees the gap. */
  gap(missingSamples: number): void;
  /** Resolves once everything received has been handed on. */
  flush(): Promise<void>;
  /** Totals for the end-of-call log line. */
  summary(): Record<string, unknown>;
}

/** Counts what a call delivered per channel: the pipeline of a call with no downstream stage. */
export class MeteringPipeline implements CallPipeline {
  private readonly samples = new Map<string, number>();
  private readonly peaks = new Map<string, number>();
  private frames = 0;
  private boundaries = 0;

  start(): void {}

  audio(chunk: PcmChunk): void {
    this.frames += 1;
    chunk.media.channels.forEach((name, i) => {
      const pcm = chunk.channels[i] as Int16Array;
      let peak = this.peaks.get(name) ?? 0;
      for (const s of pcm) peak = Math.max(peak, Math.abs(s));
      this.peaks.set(name, peak);
      this.samples.set(name, (this.samples.get(name) ?? 0) + pcm.length);
    });
  }

  boundary(): void {
    this.boundaries += 1;
  }

  language(): void {}

  gap(): void {
    this.boundaries += 1;
  }

  async flush(): Promise<void> {}

  summary(): Record<string, unknown> {
    return {
      frames: this.frames,
      boundaries: this.boundaries,
      samples: Object.fromEntries(this.samples),
      peaks: Object.fromEntries(this.peaks),
    };
  }
}
