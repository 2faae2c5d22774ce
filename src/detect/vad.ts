// Voice activity detection on the shared 10 ms spectral frames. Energy alone calls call-progress tones
// speech (dial tone, ringback, busy, DTMF, hold music are everyday contact-centre audio), so a frame only
// counts as speech when it is loud enough above an adaptive noise floor AND its energy is not held by a
// few stable spectral peaks.

import { BINS, HOP, SAMPLE_RATE, SPEECH_BAND_BINS, type SpectralFrame } from "./features.js";

export interface VadFrame {
  /** Smoothed decision: inside a speech region (with onset check and hangover). */
  speech: boolean;
  /** This frame itself looks like speech (energy and not tonal); what the classifier should consume. */
  active: boolean;
  /** Why a loud frame was refused, for tests and diagnostics. */
  reason: "speech" | "quiet" | "tone" | "music";
}

export interface VadOptions {
  /** Level below which everything is silence, dBFS (RMS of a full-band signal). Default -50. */
  minLevelDbfs?: number;
  /** Margin above the tracked noise floor, dB. Default 9. */
  floorMarginDb?: number;
  /** Fraction of in-band energy within the two strongest peaks that marks a tone. Default 0.95. */
  toneFraction?: number;
  /** Hangover after the last active frame, ms. Default 200. */
  hangoverMs?: number;
}

const FRAMES_PER_SECOND = SAMPLE_RATE / HOP;
const DB = Math.log(10) / 10; // natural-log power per dB
const [LO, HI] = SPEECH_BAND_BINS;
const PEAK_HALF_WIDTH = 3; // Hann main lobe of a 25 ms window spans about +/-2.6 bins of 31.25 Hz
const PERSIST_FRAMES = 30; // a peak held 200 ms at the same frequency is a note or a tone, not a vowel
const ONSET_WINDOW = 10;
const FLOOR_FRAMES = 100;
const ONSET_MIN = 4;

export class VoiceActivityDetector {
  private readonly minLog: number;
  private readonly margin: number;
  private readonly toneFraction: number;
  private readonly hangover: number;
  private floor = 0;
  /**
   * The last FLOOR_FRAMES levels' running minimum as a monotonic queue (frame numbers and levels, levels
   * rising from the head): O(1) a frame where a scan of the whole second cost a hundred comparisons.
   * Levels are kept as float32, as the ring of levels it replaces kept them.
   */
  private readonly minFrames = new Float64Array(FLOOR_FRAMES);
  private readonly minLevels = new Float32Array(FLOOR_FRAMES);
  private minHead = 0;
  private minCount = 0;
  private frameNo = 0;
  private sinceActive = Number.POSITIVE_INFINITY;
  private readonly recent = new Uint8Array(ONSET_WINDOW);
  private recentPos = 0;
  private recentSum = 0;
  private persist = new Uint16Array(BINS);
  private persistNext = new Uint16Array(BINS);
  /** Exponential average of "loud but tonal" over loud frames: high during hold music and tone cadences. */
  private tonalScore = 0;
  private inSpeech = false;

  constructor(options: VadOptions = {}) {
    // Mean power per FFT bin of a signal at L dBFS, as LogMelExtractor computes it (Hann: sum w^2 = 3N/8).
    const rms = 32768 * 10 ** ((options.minLevelDbfs ?? -50) / 20);
    this.minLog = Math.log(rms * rms * 0.375);
    this.margin = (options.floorMarginDb ?? 9) * DB;
    this.toneFraction = options.toneFraction ?? 0.98;
    this.hangover = Math.round(((options.hangoverMs ?? 200) / 1000) * FRAMES_PER_SECOND);
  }

  process(frame: SpectralFrame): VadFrame {
    const e = frame.logEnergy;
    // Noise floor = the quietest frame of the last second (minimum statistics): steady noise or a
    // stationary hum becomes the floor within a second, while speech always has quieter frames in it.
    // The level a second old leaves first (so the queue never holds more than FLOOR_FRAMES), then every
    // level not below this one, which can no longer be the minimum while this one is in the window.
    if (this.minCount > 0 && (this.minFrames[this.minHead] as number) <= this.frameNo - FLOOR_FRAMES) {
      this.minHead = (this.minHead + 1) % FLOOR_FRAMES;
      this.minCount--;
    }
    const stored = Math.fround(e);
    while (this.minCount > 0) {
      const tail = (this.minHead + this.minCount - 1) % FLOOR_FRAMES;
      if ((this.minLevels[tail] as number) < stored) break;
      this.minCount--;
    }
    const slot = (this.minHead + this.minCount) % FLOOR_FRAMES;
    this.minFrames[slot] = this.frameNo;
    this.minLevels[slot] = stored;
    this.minCount++;
    this.frameNo++;
    const floor = Math.min(e, this.minLevels[this.minHead] as number);
    this.floor = Math.max(floor, this.minLog - 10 * DB);

    const loud = e > this.minLog && e > this.floor + this.margin;
    const { concentration, persistent } = this.tonality(frame.power, loud);
    let reason: VadFrame["reason"] = "quiet";
    if (loud) {
      const tonal = concentration > this.toneFraction || persistent > 0.6;
      this.tonalScore += (tonal ? 1 - this.tonalScore : -this.tonalScore) / (0.8 * FRAMES_PER_SECOND);
      if (tonal) reason = "tone";
      else if (this.tonalScore > 0.45) reason = "music";
      else reason = "speech";
    }
    const active = reason === "speech";

    this.recentSum += (active ? 1 : 0) - (this.recent[this.recentPos] as number);
    this.recent[this.recentPos] = active ? 1 : 0;
    this.recentPos = (this.recentPos + 1) % ONSET_WINDOW;
    if (active) this.sinceActive = 0;
    else this.sinceActive++;
    if (!this.inSpeech && this.recentSum >= ONSET_MIN) this.inSpeech = true;
    else if (this.inSpeech && (this.sinceActive > this.hangover || reason === "tone" || reason === "music"))
      this.inSpeech = false;
    return { speech: this.inSpeech, active: active && this.inSpeech, reason };
  }

  /**
   * Share of in-band energy in the two strongest peaks (a tone or tone pair is near 1, speech spreads
   * over formants and harmonics), and share in peaks that have not moved for PERSIST_FRAMES (music notes).
   */
  private tonality(power: Float32Array, loud: boolean): { concentration: number; persistent: number } {
    let total = 0;
    let p1 = -1;
    let p2 = -1;
    const next = this.persistNext;
    next.fill(0);
    for (let k = LO; k <= HI; k++) {
      const v = power[k] as number;
      total += v;
      const isPeak = v > (power[k - 1] as number) && v >= (power[k + 1] as number);
      if (!isPeak) continue;
      if (p1 < 0 || v > (power[p1] as number)) {
        p2 = p1;
        p1 = k;
      } else if (p2 < 0 || v > (power[p2] as number)) p2 = k;
      if (loud) {
        const held = Math.max(
          this.persist[k - 1] as number,
          this.persist[k] as number,
          this.persist[k + 1] as number,
        );
        next[k] = held + 1;
      }
    }
    if (total <= 0) return { concentration: 0, persistent: 0 };
    // The two peaks' neighbourhoods, lower one first, without counting an overlap twice.
    let peakEnergy = 0;
    let lastEnd = -1;
    for (let n = 0; n < 2; n++) {
      const p = n === 0 ? Math.min(p1, p2) : Math.max(p1, p2);
      if (p < 0) continue;
      const from = Math.max(LO, p - PEAK_HALF_WIDTH, lastEnd + 1);
      const to = Math.min(HI, p + PEAK_HALF_WIDTH);
      for (let k = from; k <= to; k++) peakEnergy += power[k] as number;
      lastEnd = to;
    }
    let persistentEnergy = 0;
    for (let k = LO; k <= HI; k++) {
      if ((next[k] as number) < PERSIST_FRAMES) continue;
      for (let j = Math.max(LO, k - PEAK_HALF_WIDTH); j <= Math.min(HI, k + PEAK_HALF_WIDTH); j++)
        persistentEnergy += power[j] as number;
    }
    this.persistNext = this.persist;
    this.persist = next;
    return { concentration: peakEnergy / total, persistent: persistentEnergy / total };
  }

  reset(): void {
    this.floor = 0;
    this.minHead = 0;
    this.minCount = 0;
    this.frameNo = 0;
    this.sinceActive = Number.POSITIVE_INFINITY;
    this.recent.fill(0);
    this.recentPos = 0;
    this.recentSum = 0;
    this.persist.fill(0);
    this.tonalScore = 0;
    this.inSpeech = false;
  }
}
