// Inference for the acoustic language classifier trained by tools/lid/train.py (x-vector-lite):
// context-stacked CMN log-mel -> two dense ReLU layers per encoder step -> mean+std pooling over a sliding
// window of speech -> dense ReLU -> softmax. Weights ship as float16 in model/weights.json; arithmetic is
// float64 on float32 weights (embeddings kept as float32 in the pooling window), so results match numpy to ~1e-6.

import type { Normalization } from "./frontend.js";

export interface LayerJson {
  shape: number[];
  /** Little-endian IEEE float16, base64. */
  f16: string;
}

export interface ModelJson {
  format: string;
  labels: string[];
  dim: number;
  offsets: number[];
  stride: number;
  /** The front end's normalisation the model was trained on (absent: "cmn"). */
  normalization?: Normalization;
  layers: Record<"W1" | "b1" | "W2" | "b2" | "W3" | "b3" | "W4" | "b4", LayerJson>;
}

export class ModelFormatError extends Error {
  readonly code = "ERR_LID_MODEL_FORMAT";
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** A layer's float16 values widened to float32, which holds every float16 exactly at half of float64's size. */
function decodeLayer(layer: LayerJson, expected: number): Float32Array {
  const bin = atob(layer.f16);
  const n = bin.length / 2;
  if (n !== expected || layer.shape.reduce((a, b) => a * b, 1) !== expected) {
    throw new ModelFormatError(`layer has ${n} values, expected ${expected}`);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = halfToFloat(bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8));
  return out;
}

/**
 * y = relu(x W + b) with W stored row-major (in x out). Rows of zero inputs (ReLU outputs) are skipped;
 * the inner loop is unrolled by four, which V8 runs about 1.7x faster, with the same sums in the same order.
 */
function dense(x: Float64Array, w: Float32Array, b: Float32Array, out: Float64Array, relu: boolean): void {
  const nOut = b.length;
  const tail = nOut - (nOut % 4);
  for (let o = 0; o < nOut; o++) out[o] = b[o] as number;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] as number;
    if (xi === 0) continue;
    const row = i * nOut;
    let o = 0;
    for (; o < tail; o += 4) {
      out[o] = (out[o] as number) + xi * (w[row + o] as number);
      out[o + 1] = (out[o + 1] as number) + xi * (w[row + o + 1] as number);
      out[o + 2] = (out[o + 2] as number) + xi * (w[row + o + 2] as number);
      out[o + 3] = (out[o + 3] as number) + xi * (w[row + o + 3] as number);
    }
    for (; o < nOut; o++) out[o] = (out[o] as number) + xi * (w[row + o] as number);
  }
  if (relu) for (let o = 0; o < nOut; o++) if ((out[o] as number) < 0) out[o] = 0;
}

export class LanguageModel {
  readonly labels: readonly string[];
  readonly dim: number;
  readonly offsets: readonly number[];
  readonly stride: number;
  readonly normalization: Normalization;
  readonly embeddingSize: number;
  private readonly w: Record<keyof ModelJson["layers"], Float32Array>;
  private readonly h1: Float64Array;
  private readonly h3: Float64Array;

  constructor(json: ModelJson) {
    this.labels = json.labels;
    this.dim = json.dim;
    this.offsets = json.offsets;
    this.stride = json.stride;
    const normalization = json.normalization ?? "cmn";
    if (normalization !== "cmn" && normalization !== "cmvn")
      throw new ModelFormatError(`unknown normalization ${String(normalization)}`);
    this.normalization = normalization;
    const L = json.layers;
    const inDim = json.dim * json.offsets.length;
    const h1 = L.b1.shape[0] ?? 0;
    const h2 = L.b2.shape[0] ?? 0;
    const h3 = L.b3.shape[0] ?? 0;
    const k = json.labels.length;
    this.w = {
      W1: decodeLayer(L.W1, inDim * h1),
      b1: decodeLayer(L.b1, h1),
      W2: decodeLayer(L.W2, h1 * h2),
      b2: decodeLayer(L.b2, h2),
      W3: decodeLayer(L.W3, 2 * h2 * h3),
      b3: decodeLayer(L.b3, h3),
      W4: decodeLayer(L.W4, h3 * k),
      b4: decodeLayer(L.b4, k),
    };
    this.embeddingSize = h2;
    this.h1 = new Float64Array(h1);
    this.h3 = new Float64Array(h3);
  }

  /** Frame-level encoder: a stacked context vector (dim * offsets.length) -> embedding (embeddingSize). */
  encode(stacked: Float64Array, out: Float64Array): void {
    dense(stacked, this.w.W1, this.w.b1, this.h1, true);
    dense(this.h1, this.w.W2, this.w.b2, out, true);
  }

  /** Utterance-level head: pooled [mean, std] (2 * embeddingSize) -> logits (labels.length). */
  classify(pooled: Float64Array, logits: Float64Array): void {
    dense(pooled, this.w.W3, this.w.b3, this.h3, true);
    dense(this.h3, this.w.W4, this.w.b4, logits, false);
  }
}

export function softmax(logits: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) max = Math.max(max, v);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp((logits[i] as number) - max);
    sum += out[i] as number;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}

const POOL_EPS = 1e-5;

/**
 * Feeds normalised speech frames through the encoder and keeps mean/std statistics over a sliding window
 * of the last `windowSteps` encoder outputs, so the estimate follows a caller who changes language.
 */
export class StreamingPooler {
  private readonly span: number;
  private readonly history: Float64Array; // last `span` frames, ring
  private frames = 0;
  private readonly stacked: Float64Array;
  private readonly emb: Float64Array;
  private readonly window: Float32Array; // ring of embeddings (float32: 134 KB per channel at 6 s, 112 dims)
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  private steps = 0;
  /**
   * Encode only every `thinning`-th step (1: every step). The encoder is two thirds of the detector's
   * cost; a detector that has committed thins, and still catches a switch, at about 60 % of the cost.
   */
  thinning = 1;
  private sinceEncode = 0;
  private readonly pooled: Float64Array;
  private readonly logits: Float64Array;

  constructor(
    private readonly model: LanguageModel,
    private readonly windowSteps = 300,
  ) {
    const first = model.offsets[0] ?? 0;
    const last = model.offsets[model.offsets.length - 1] ?? 0;
    this.span = last - first + 1;
    this.history = new Float64Array(this.span * model.dim);
    this.stacked = new Float64Array(model.dim * model.offsets.length);
    this.emb = new Float64Array(model.embeddingSize);
    this.window = new Float32Array(windowSteps * model.embeddingSize);
    this.sum = new Float64Array(model.embeddingSize);
    this.sumSq = new Float64Array(model.embeddingSize);
    this.pooled = new Float64Array(2 * model.embeddingSize);
    this.logits = new Float64Array(model.labels.length);
  }

  /** Add one active (speech) frame of CMN log-mel. */
  push(frame: Float32Array | Float64Array): void {
    const { dim, offsets, stride } = this.model;
    this.history.set(frame.subarray(0, dim), (this.frames % this.span) * dim);
    this.frames++;
    const last = offsets[offsets.length - 1] ?? 0;
    const first = offsets[0] ?? 0;
    const centre = this.frames - 1 - last;
    if (centre + first < 0 || (centre + first) % stride !== 0) return;
    // Thinned: between encodings the last embedding stands in, so the window still spans the same time.
    if (this.thinning > 1 && this.steps > 0 && ++this.sinceEncode < this.thinning) {
      this.addToWindow();
      return;
    }
    this.sinceEncode = 0;
    for (let j = 0; j < offsets.length; j++) {
      const src = ((centre + (offsets[j] as number)) % this.span) * dim;
      for (let i = 0; i < dim; i++) this.stacked[j * dim + i] = this.history[src + i] as number;
    }
    this.model.encode(this.stacked, this.emb);
    this.addToWindow();
  }

  private addToWindow(): void {
    const e = this.model.embeddingSize;
    const slot = (this.steps % this.windowSteps) * e;
    const full = this.steps >= this.windowSteps;
    for (let i = 0; i < e; i++) {
      if (full) {
        const old = this.window[slot + i] as number;
        this.sum[i] = (this.sum[i] as number) - old;
        this.sumSq[i] = (this.sumSq[i] as number) - old * old;
      }
      // Add exactly the stored (rounded) value so that removing it later cancels it exactly.
      this.window[slot + i] = this.emb[i] as number;
      const v = this.window[slot + i] as number;
      this.sum[i] = (this.sum[i] as number) + v;
      this.sumSq[i] = (this.sumSq[i] as number) + v * v;
    }
    this.steps++;
  }

  /** Encoder steps so far (each covers `stride` speech frames). */
  get stepCount(): number {
    return this.steps;
  }

  /** Logits over model.labels for the current window, or null before the first encoder step. */
  logitsNow(): Float64Array | null {
    const n = Math.min(this.steps, this.windowSteps);
    if (n === 0) return null;
    const e = this.model.embeddingSize;
    for (let i = 0; i < e; i++) {
      const mu = (this.sum[i] as number) / n;
      const v = Math.max((this.sumSq[i] as number) / n - mu * mu, 0);
      this.pooled[i] = mu;
      this.pooled[e + i] = Math.sqrt(v + POOL_EPS);
    }
    this.model.classify(this.pooled, this.logits);
    return this.logits;
  }

  reset(): void {
    this.frames = 0;
    this.steps = 0;
    this.sum.fill(0);
    this.sumSq.fill(0);
  }
}
