// A simple energy voice-activity segmenter: 20 ms frames above a level start speech, 300 ms below end it.
// Good enough to place fake utterances where speech is, to within a frame.

export interface VadOptions {
  sampleRate: number;
  /** Frame length, default 20 ms. */
  frameMs?: number;
  /** A frame whose RMS is above this (dBFS) is speech; default -40. */
  thresholdDbfs?: number;
  /** Silence that ends an utterance, default 300 ms. */
  hangoverMs?: number;
  /** Shorter bursts (clicks) are dropped, default 100 ms. */
  minSpeechMs?: number;
}

/** An utterance on the stream timeline, in samples; `end` is exclusive (end of the last speech frame). */
export interface Segment {
  start: number;
  end: number;
}

export class EnergyVad {
  readonly frameSamples: number;
  readonly #threshold: number;
  readonly #hangoverSamples: number;
  readonly #minSpeechSamples: number;
  #carry: Int16Array;
  #carryLength = 0;
  /** Timeline position of the first sample in #carry. */
  #carryStart = 0;
  #speechStart: number | undefined;
  #speechEnd = 0;

  constructor(options: VadOptions) {
    const rate = options.sampleRate;
    this.frameSamples = Math.round(((options.frameMs ?? 20) * rate) / 1000);
    this.#threshold = options.thresholdDbfs ?? -40;
    this.#hangoverSamples = Math.round(((options.hangoverMs ?? 300) * rate) / 1000);
    this.#minSpeechSamples = Math.round(((options.minSpeechMs ?? 100) * rate) / 1000);
    this.#carry = new Int16Array(this.frameSamples);
  }

  /** Where speech currently in progress started, if any. */
  get speechStart(): number | undefined {
    return this.#speechStart;
  }

  /** End of the last speech frame seen (meaningful while speech is in progress). */
  get speechEnd(): number {
    return this.#speechEnd;
  }

  /** Feeds samples placed at `position`; returns the utterances that ended in them. */
  push(samples: Int16Array, position: number): Segment[] {
    const out: Segment[] = [];
    if (position !== this.#carryStart + this.#carryLength) {
      // A jump on the timeline (gap): the partial frame belongs to nothing any more.
      this.#carryLength = 0;
      this.#carryStart = position;
    }
    let read = 0;
    while (read < samples.length) {
      const take = Math.min(this.frameSamples - this.#carryLength, samples.length - read);
      this.#carry.set(samples.subarray(read, read + take), this.#carryLength);
      this.#carryLength += take;
      read += take;
      if (this.#carryLength === this.frameSamples) {
        const segment = this.#frame(this.#carryStart, levelDbfs(this.#carry));
        if (segment !== undefined) out.push(segment);
        this.#carryStart += this.frameSamples;
        this.#carryLength = 0;
      }
    }
    return out;
  }

  /** Ends speech in progress now (a boundary): returns it if long enough. */
  finish(): Segment | undefined {
    const start = this.#speechStart;
    this.#speechStart = undefined;
    if (start === undefined || this.#speechEnd - start < this.#minSpeechSamples) return undefined;
    return { start, end: this.#speechEnd };
  }

  #frame(start: number, level: number): Segment | undefined {
    const end = start + this.frameSamples;
    if (level > this.#threshold) {
      this.#speechStart ??= start;
      this.#speechEnd = end;
      return undefined;
    }
    if (this.#speechStart !== undefined && end - this.#speechEnd >= this.#hangoverSamples)
      return this.finish();
    return undefined;
  }
}

export function levelDbfs(frame: Int16Array): number {
  let sum = 0;
  for (const s of frame) sum += s * s;
  const rms = Math.sqrt(sum / Math.max(1, frame.length)) / 32768;
  return rms > 0 ? 20 * Math.log10(rms) : -120;
}
