// Per-channel acoustic language detector: front end (VAD, log-mel, CMN) -> streaming x-vector-lite ->
// a decision with hysteresis. Until it is confident it reports the fallback language (configured or "und")
// as provisional; once committed it switches only when another language wins repeatedly.

import { CONFIG_DEFAULTS } from "../config.js";
import { FrontEnd } from "./frontend.js";
import { type LanguageModel, StreamingPooler } from "./model.js";

export const UNDETERMINED = "und";

export interface LanguageEstimate {
  /** BCP-47 tag such as "es-ES", or "und". */
  language: string;
  /** Probability of `language` among the candidates (0 when undetermined by lack of speech). */
  confidence: number;
  /** True until the detector has committed to a language. */
  provisional: boolean;
  /** The latest posterior of each candidate language, by the call's spelling (what remains is `other`). */
  posteriors?: Readonly<Record<string, number>>;
}

/** What the fused decision needs from any detector; another engine can implement it. */
export interface LanguageDetector {
  /** Feed PCM at 8 kHz, any chunk size. */
  push(samples: Int16Array): void;
  current(): LanguageEstimate;
  /** Narrow (or with null, widen back) the languages this call may be in. */
  setCandidates(languages: readonly string[] | null): void;
  /** Seconds of speech heard so far. */
  readonly speechSeconds: number;
}

export interface AcousticDetectorOptions {
  /** Languages this call may be in (BCP-47, matched to model labels by language subtag). Default: all. */
  candidates?: readonly string[] | null;
  /** Reported while provisional. Default "und". */
  fallbackLanguage?: string;
  /** Speech (seconds) pooled per decision window; older speech drops out. Default 6. */
  windowSeconds?: number;
  /** Speech (seconds) between decisions. Default 0.5. */
  decisionIntervalSeconds?: number;
  /** Speech (seconds) needed before a first commitment. Default 1.5. */
  minSpeechSeconds?: number;
  /** Posterior needed to commit; default ACOUSTIC_COMMIT_PERCENT / 100 (tools/lid/README.md: the trade). */
  commitConfidence?: number;
  /** Posterior a rival needs, `switchDecisions` decisions in a row, to replace the committed language. */
  switchConfidence?: number;
  /** Default 4 (2 s of speech at the default interval). */
  switchDecisions?: number;
  /** Encoder steps per encoding once committed; default COMMITTED_THINNING (1: never thin). */
  committedThinning?: number;
}

const FRAMES_PER_SECOND = 100;
/** Encoder steps per encoding once committed (1 until then). */
export const COMMITTED_THINNING = 3;

/** The primary language subtag of a BCP-47 tag, lower-cased ("es-MX" -> "es"): what tags are matched on. */
export const primaryLanguage = (tag: string): string => tag.split("-")[0]?.toLowerCase() ?? "";

/** Map a requested tag to the model label with the same primary language ("es-MX" -> "es-ES"). */
function labelFor(tag: string, labels: readonly string[]): string | undefined {
  const exact = labels.find((l) => l.toLowerCase() === tag.toLowerCase());
  if (exact) return exact;
  return labels.find((l) => primaryLanguage(l) === primaryLanguage(tag));
}

export class AcousticLanguageDetector implements LanguageDetector {
  private readonly frontEnd: FrontEnd;
  private readonly pooler: StreamingPooler;
  private readonly labels: readonly string[];
  private readonly otherIndex: number;
  private allowed: boolean[];
  /** Requested tag for each model label, so a call configured for "es-MX" hears "es-MX" back. */
  private requested: (string | undefined)[];
  private readonly fallback: string;
  private readonly stepsPerDecision: number;
  private readonly minSteps: number;
  private readonly commitConfidence: number;
  private readonly switchConfidence: number;
  private readonly switchDecisions: number;
  private readonly committedThinning: number;
  private committed = -1;
  private committedConfidence = 0;
  private rival = -1;
  private rivalCount = 0;
  private lastDecisionStep = 0;
  private activeFrames = 0;
  private lastPosteriors: Float64Array | null = null;
  private lastByTag: Readonly<Record<string, number>> | undefined;

  constructor(
    readonly model: LanguageModel,
    options: AcousticDetectorOptions = {},
  ) {
    this.labels = model.labels;
    this.otherIndex = this.labels.indexOf("other");
    const stepsPerSecond = FRAMES_PER_SECOND / model.stride;
    this.pooler = new StreamingPooler(model, Math.round((options.windowSeconds ?? 6) * stepsPerSecond));
    this.fallback = options.fallbackLanguage ?? UNDETERMINED;
    this.stepsPerDecision = Math.max(
      1,
      Math.round((options.decisionIntervalSeconds ?? 0.5) * stepsPerSecond),
    );
    this.minSteps = Math.round((options.minSpeechSeconds ?? 1.5) * stepsPerSecond);
    this.commitConfidence = options.commitConfidence ?? CONFIG_DEFAULTS.ACOUSTIC_COMMIT_PERCENT / 100;
    this.switchConfidence = options.switchConfidence ?? 0.7;
    this.switchDecisions = options.switchDecisions ?? 4;
    this.committedThinning = options.committedThinning ?? COMMITTED_THINNING;
    this.allowed = this.labels.map(() => true);
    this.requested = [...this.labels];
    this.setCandidates(options.candidates ?? null);
    this.frontEnd = new FrontEnd(
      (f) => {
        if (!f.normalized) return;
        this.activeFrames++;
        this.pooler.push(f.normalized);
        if (this.pooler.stepCount - this.lastDecisionStep >= this.stepsPerDecision) this.decide();
      },
      {},
      model.normalization,
    );
  }

  setCandidates(languages: readonly string[] | null): void {
    this.requested = [...this.labels];
    if (!languages || languages.length === 0) {
      this.allowed = this.labels.map(() => true);
    } else {
      this.allowed = this.labels.map(() => false);
      for (const tag of languages) {
        const label = labelFor(tag, this.labels);
        if (label === undefined) continue;
        const i = this.labels.indexOf(label);
        this.allowed[i] = true;
        this.requested[i] = tag;
      }
      if (!this.allowed.some(Boolean)) this.allowed = this.labels.map(() => true);
    }
    // "other" always stays: it is how a language outside the set is refused rather than mislabelled.
    if (this.otherIndex >= 0) this.allowed[this.otherIndex] = true;
    if (this.committed >= 0 && !this.allowed[this.committed]) this.committed = -1;
    this.lastByTag = undefined; // keyed by the old set's spellings
  }

  push(samples: Int16Array): void {
    this.frontEnd.push(samples);
  }

  get speechSeconds(): number {
    return this.activeFrames / FRAMES_PER_SECOND;
  }

  /** Posteriors over the allowed labels (renormalised), by label; empty before any speech. */
  posteriors(): Map<string, number> {
    const out = new Map<string, number>();
    const p = this.lastPosteriors ?? this.computePosteriors();
    if (p)
      for (let i = 0; i < p.length; i++)
        if (this.allowed[i]) out.set(this.labels[i] as string, p[i] as number);
    return out;
  }

  current(): LanguageEstimate {
    if (this.committed >= 0 && this.committed !== this.otherIndex) {
      return {
        language: this.requested[this.committed] ?? UNDETERMINED,
        confidence: this.committedConfidence,
        provisional: false,
        posteriors: this.lastByTag,
      };
    }
    if (this.committed === this.otherIndex && this.committed >= 0) {
      return {
        language: UNDETERMINED,
        confidence: this.committedConfidence,
        provisional: false,
        posteriors: this.lastByTag,
      };
    }
    const p = this.lastPosteriors;
    let best = 0;
    if (p) for (let i = 0; i < p.length; i++) if ((p[i] as number) > best) best = p[i] as number;
    return {
      language: this.fallback,
      confidence: p ? best : 0,
      provisional: true,
      posteriors: this.lastByTag,
    };
  }

  private computePosteriors(): Float64Array | null {
    const logits = this.pooler.logitsNow();
    if (!logits) return null;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < logits.length; i++) if (this.allowed[i]) max = Math.max(max, logits[i] as number);
    const p = new Float64Array(logits.length);
    let sum = 0;
    for (let i = 0; i < logits.length; i++) {
      if (!this.allowed[i]) continue;
      p[i] = Math.exp((logits[i] as number) - max);
      sum += p[i] as number;
    }
    for (let i = 0; i < p.length; i++) p[i] = (p[i] as number) / sum;
    return p;
  }

  private decide(): void {
    this.decideOnce();
    // Committed, the detector only has to notice a switch: a third of the encodings do (StreamingPooler).
    this.pooler.thinning = this.committed >= 0 ? this.committedThinning : 1;
  }

  private decideOnce(): void {
    this.lastDecisionStep = this.pooler.stepCount;
    const p = this.computePosteriors();
    if (!p) return;
    this.lastPosteriors = p;
    const byTag: Record<string, number> = {};
    for (let i = 0; i < p.length; i++)
      if (this.allowed[i] && i !== this.otherIndex) byTag[this.requested[i] as string] = p[i] as number;
    this.lastByTag = byTag;
    let top = 0;
    for (let i = 1; i < p.length; i++) if ((p[i] as number) > (p[top] as number)) top = i;
    const pTop = p[top] as number;
    if (this.committed < 0) {
      if (this.pooler.stepCount >= this.minSteps && pTop >= this.commitConfidence) {
        this.committed = top;
        this.committedConfidence = pTop;
      }
      return;
    }
    const pCommitted = p[this.committed] as number;
    // Smooth the reported confidence so one odd window does not make it jump.
    this.committedConfidence += 0.5 * (pCommitted - this.committedConfidence);
    if (top === this.committed || pTop < this.switchConfidence) {
      this.rival = -1;
      this.rivalCount = 0;
      return;
    }
    this.rivalCount = top === this.rival ? this.rivalCount + 1 : 1;
    this.rival = top;
    if (this.rivalCount >= this.switchDecisions) {
      this.committed = top;
      this.committedConfidence = pTop;
      this.rival = -1;
      this.rivalCount = 0;
    }
  }
}
