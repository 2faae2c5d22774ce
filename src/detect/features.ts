// Incremental log-mel front end for 8 kHz telephone audio: 25 ms Hann window, 10 ms hop, mel bands over
// 300-3400 Hz. One FFT per frame feeds both the VAD (power spectrum) and the language model (log-mel).

export const SAMPLE_RATE = 8000;
export const WINDOW = 200; // 25 ms
export const HOP = 80; // 10 ms
export const FFT_SIZE = 256;
export const BINS = FFT_SIZE / 2 + 1;
export const MEL_BANDS = 24;
export const MEL_LOW_HZ = 300;
export const MEL_HIGH_HZ = 3400;
/** Floor on band energy (Int16 scale, power per band): keeps log() finite on digital silence. */
export const LOG_FLOOR = Math.log(1e-2);

/** One analysis frame. Buffers are reused by the extractor: copy what you keep. */
export interface SpectralFrame {
  /** Index of the frame since the start of the stream (frame i covers samples [i*HOP, i*HOP+WINDOW)). */
  index: number;
  /** Power spectrum, BINS values (Int16 scale). */
  power: Float32Array;
  /** Natural-log mel band energies, MEL_BANDS values, floored at LOG_FLOOR. */
  logMel: Float32Array;
  /** Natural log of the mean power per sample in 300-3400 Hz (a level, in nepers*2). */
  logEnergy: number;
}

const hzToMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
const melToHz = (mel: number): number => 700 * (10 ** (mel / 2595) - 1);

/** Triangular mel filters as (first bin, weights) pairs: sparse, so a frame costs ~BINS multiply-adds. */
export interface MelFilter {
  start: number;
  weights: Float32Array;
}

export function melFilterbank(bands = MEL_BANDS, lowHz = MEL_LOW_HZ, highHz = MEL_HIGH_HZ): MelFilter[] {
  const lo = hzToMel(lowHz);
  const hi = hzToMel(highHz);
  const edges: number[] = [];
  for (let i = 0; i < bands + 2; i++) edges.push(melToHz(lo + ((hi - lo) * i) / (bands + 1)));
  const binHz = SAMPLE_RATE / FFT_SIZE;
  const filters: MelFilter[] = [];
  for (let b = 0; b < bands; b++) {
    const left = edges[b] ?? 0;
    const centre = edges[b + 1] ?? 0;
    const right = edges[b + 2] ?? 0;
    const start = Math.max(0, Math.ceil(left / binHz));
    const end = Math.min(BINS - 1, Math.floor(right / binHz));
    const w = new Float32Array(Math.max(0, end - start + 1));
    for (let k = start; k <= end; k++) {
      const f = k * binHz;
      w[k - start] = f <= centre ? (f - left) / (centre - left) : (right - f) / (right - centre);
    }
    filters.push({ start, weights: w });
  }
  return filters;
}

/**
 * Radix-2 complex FFT of a power-of-two size whose input is written in bit-reversed order by the caller
 * (`reversed[n]` is where sample n goes), so no separate reordering pass is needed. Each stage's
 * twiddles sit side by side (stage of half-size h at [h, 2h)), loaded once per butterfly column.
 */
class Fft {
  private readonly wr: Float64Array;
  private readonly wi: Float64Array;
  readonly reversed: Uint16Array;

  constructor(readonly size: number) {
    this.wr = new Float64Array(size);
    this.wi = new Float64Array(size);
    for (let half = 1; half < size; half <<= 1)
      for (let k = 0; k < half; k++) {
        this.wr[half + k] = Math.cos((Math.PI * k) / half);
        this.wi[half + k] = -Math.sin((Math.PI * k) / half);
      }
    this.reversed = new Uint16Array(size);
    const bits = Math.log2(size);
    for (let i = 0; i < size; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.reversed[i] = r;
    }
  }

  /** In place, on input already in bit-reversed order. */
  transform(re: Float64Array, im: Float64Array): void {
    const n = this.size;
    // The first stage's twiddle is 1: sums and differences only.
    for (let a = 0; a < n; a += 2) {
      const ar = re[a] as number;
      const ai = im[a] as number;
      const br = re[a + 1] as number;
      const bi = im[a + 1] as number;
      re[a] = ar + br;
      im[a] = ai + bi;
      re[a + 1] = ar - br;
      im[a + 1] = ai - bi;
    }
    for (let half = 2; half < n; half <<= 1) {
      const size = half << 1;
      for (let k = 0; k < half; k++) {
        const wr = this.wr[half + k] as number;
        const wi = this.wi[half + k] as number;
        for (let a = k; a < n; a += size) {
          const b = a + half;
          const br = re[b] as number;
          const bi = im[b] as number;
          const tr = br * wr - bi * wi;
          const ti = br * wi + bi * wr;
          const ar = re[a] as number;
          const ai = im[a] as number;
          re[b] = ar - tr;
          im[b] = ai - ti;
          re[a] = ar + tr;
          im[a] = ai + ti;
        }
      }
    }
  }
}

/**
 * Power spectrum of a real signal of FFT_SIZE samples through one complex FFT of half the size (even
 * samples as the real part, odd as the imaginary, then separated): half the work of a full complex FFT,
 * which is most of the front end's cost.
 */
class RealPowerSpectrum {
  private readonly half = new Fft(FFT_SIZE / 2);
  private readonly zr = new Float64Array(FFT_SIZE / 2);
  private readonly zi = new Float64Array(FFT_SIZE / 2);
  private readonly cos = new Float64Array(FFT_SIZE / 2 + 1);
  private readonly sin = new Float64Array(FFT_SIZE / 2 + 1);

  constructor() {
    for (let k = 0; k <= FFT_SIZE / 2; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / FFT_SIZE);
      this.sin[k] = Math.sin((2 * Math.PI * k) / FFT_SIZE);
    }
  }

  /**
   * `x`: the first `x.length` (even, at most FFT_SIZE) of FFT_SIZE real samples, the rest being zero;
   * `power[k]` = |X[k]|^2 / `scale`, k = 0..FFT_SIZE/2.
   */
  compute(x: Float64Array, power: Float32Array, scale: number): void {
    const m = FFT_SIZE / 2;
    const { zr, zi } = this;
    const rev = this.half.reversed;
    const pairs = x.length >> 1;
    for (let n = 0; n < pairs; n++) {
      const j = rev[n] as number;
      zr[j] = x[2 * n] as number;
      zi[j] = x[2 * n + 1] as number;
    }
    for (let n = pairs; n < m; n++) {
      const j = rev[n] as number;
      zr[j] = 0;
      zi[j] = 0;
    }
    this.half.transform(zr, zi);
    // X[0] and X[m] come from Z[0] alone.
    const r0 = zr[0] as number;
    const i0 = zi[0] as number;
    power[0] = ((r0 + i0) * (r0 + i0)) / scale;
    power[m] = ((r0 - i0) * (r0 - i0)) / scale;
    for (let k = 1; k < m; k++) {
      const ar = zr[k] as number;
      const ai = zi[k] as number;
      const br = zr[m - k] as number;
      const bi = zi[m - k] as number;
      // Even part (Z[k] + conj Z[m-k]) / 2, odd part (Z[k] - conj Z[m-k]) / 2i, X[k] = E + W^k O.
      const er = (ar + br) / 2;
      const ei = (ai - bi) / 2;
      const or = (ai + bi) / 2;
      const oi = -(ar - br) / 2;
      const wr = this.cos[k] as number;
      const wi = -(this.sin[k] as number);
      const xr = er + wr * or - wi * oi;
      const xi = ei + wr * oi + wi * or;
      power[k] = (xr * xr + xi * xi) / scale;
    }
  }
}

const BAND_LO_BIN = Math.ceil(MEL_LOW_HZ / (SAMPLE_RATE / FFT_SIZE));
const BAND_HI_BIN = Math.floor(MEL_HIGH_HZ / (SAMPLE_RATE / FFT_SIZE));
export const SPEECH_BAND_BINS: readonly [number, number] = [BAND_LO_BIN, BAND_HI_BIN];

// Shared by every extractor in the isolate (a call has two, a busy isolate dozens): one copy of the
// constant tables stays in cache, and the scratch is filled and consumed within one analyse().
const HANN = Float32Array.from(
  { length: WINDOW },
  (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / WINDOW),
);
const MEL_FILTERS = melFilterbank();
/** Its tables and scratch are the same for every channel, and compute() runs to completion. */
const SPECTRUM = new RealPowerSpectrum();
/** The current window, DC removed and Hann-weighted (the FFT pads it with zeros). */
const WINDOWED = new Float64Array(WINDOW);

/**
 * Streams Int16 samples in chunks of any size and calls `onFrame` once per 10 ms hop.
 * Holds only the last window of samples, so memory is constant over a call.
 */
export class LogMelExtractor {
  private readonly ring = new Float32Array(WINDOW);
  private filled = 0; // samples in ring (until the first window is complete)
  private sinceHop = 0;
  private frames = 0;
  private readonly frame: SpectralFrame = {
    index: 0,
    power: new Float32Array(BINS),
    logMel: new Float32Array(MEL_BANDS),
    logEnergy: LOG_FLOOR,
  };
  private pos = 0; // next write position in the ring

  constructor(private readonly onFrame: (frame: SpectralFrame) => void) {}

  push(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i++) {
      this.ring[this.pos] = samples[i] as number;
      this.pos = this.pos + 1 === WINDOW ? 0 : this.pos + 1;
      if (this.filled < WINDOW) {
        this.filled++;
        if (this.filled === WINDOW) this.analyse();
        continue;
      }
      if (++this.sinceHop === HOP) this.analyse();
    }
  }

  /** Frames emitted so far. */
  get frameCount(): number {
    return this.frames;
  }

  private analyse(): void {
    this.sinceHop = 0;
    const { ring, pos } = this;
    const windowed = WINDOWED;
    // The oldest sample sits at `pos`; remove DC per window (G.711 paths often carry an offset).
    let mean = 0;
    for (let i = 0; i < WINDOW; i++) mean += ring[i] as number;
    mean /= WINDOW;
    const wrap = WINDOW - pos;
    for (let i = 0; i < wrap; i++) windowed[i] = ((ring[pos + i] as number) - mean) * (HANN[i] as number);
    for (let i = wrap; i < WINDOW; i++)
      windowed[i] = ((ring[i - wrap] as number) - mean) * (HANN[i] as number);
    const f = this.frame;
    const power = f.power;
    SPECTRUM.compute(windowed, power, WINDOW);
    let band = 0;
    for (let k = BAND_LO_BIN; k <= BAND_HI_BIN; k++) band += power[k] as number;
    f.logEnergy = Math.max(LOG_FLOOR, Math.log(band / (BAND_HI_BIN - BAND_LO_BIN + 1)));
    for (let b = 0; b < MEL_BANDS; b++) {
      const flt = MEL_FILTERS[b] as MelFilter;
      let e = 0;
      const w = flt.weights;
      for (let k = 0; k < w.length; k++) e += (w[k] as number) * (power[flt.start + k] as number);
      f.logMel[b] = Math.max(LOG_FLOOR, Math.log(e));
    }
    f.index = this.frames++;
    this.onFrame(f);
  }
}

/** Regression deltas over +/-2 frames (HTK formula), for callers that keep a short history. */
export function delta(
  prev2: Float32Array,
  prev1: Float32Array,
  next1: Float32Array,
  next2: Float32Array,
  out: Float32Array,
): void {
  for (let i = 0; i < out.length; i++) {
    out[i] =
      ((next1[i] as number) - (prev1[i] as number) + 2 * ((next2[i] as number) - (prev2[i] as number))) / 10;
  }
}

/**
 * Streaming cepstral-mean normalisation: the mean of the speech frames seen so far (cumulative for the
 * first `span` frames, then an exponential average with that time constant). It removes the channel and
 * much of the speaker's spectral tilt, which is what lets synthetic voices teach a model about humans.
 */
export class StreamingCmn {
  private readonly mean: Float32Array;
  private count = 0;

  constructor(
    readonly dim: number,
    private readonly span = 300,
  ) {
    this.mean = new Float32Array(dim);
  }

  /** Update with a speech frame (call before `apply` for that frame). */
  update(x: Float32Array): void {
    this.count++;
    const a = 1 / Math.min(this.count, this.span);
    for (let i = 0; i < this.dim; i++) {
      const m = this.mean[i] as number;
      this.mean[i] = m + a * ((x[i] as number) - m);
    }
  }

  apply(x: Float32Array, out: Float32Array): void {
    for (let i = 0; i < this.dim; i++) out[i] = (x[i] as number) - (this.mean[i] as number);
  }

  get frames(): number {
    return this.count;
  }

  reset(): void {
    this.count = 0;
    this.mean.fill(0);
  }
}

/**
 * Streaming variance normalisation, after CMN: each band divided by the standard deviation of the speech
 * frames so far (a prior variance worth `priorFrames` frames, a cumulative mean of squares up to `span`
 * frames, then an exponential one). It evens out how strongly a voice or a channel modulates each band.
 * Matches `streaming_cvn` in tools/lid/train.py, which trained the models that declare "cmvn".
 */
export class StreamingCvn {
  private readonly variance: Float64Array;
  private count = 0;

  constructor(
    readonly dim: number,
    private readonly prior = 6,
    private readonly priorFrames = 30,
    private readonly span = 300,
  ) {
    this.variance = new Float64Array(dim).fill(prior);
  }

  /** Update with a mean-normalised speech frame and divide it in place. */
  apply(y: Float32Array): void {
    this.count++;
    const a = 1 / Math.min(this.count + this.priorFrames, this.span);
    for (let i = 0; i < this.dim; i++) {
      const x = y[i] as number;
      const v = (this.variance[i] as number) + a * (x * x - (this.variance[i] as number));
      this.variance[i] = v;
      y[i] = x / Math.sqrt(v);
    }
  }

  reset(): void {
    this.count = 0;
    this.variance.fill(this.prior);
  }
}
