// The language of each channel of one call: an acoustic detector per channel feeding a fused
// decision (engine result > transcript text > configured language > acoustic), so every forwarded
// chunk carries a tag, a confidence and whether the tag is still provisional.

import {
  type DecisionState,
  type Evidence,
  initialDecisionState,
  next,
  restoreDecisionState,
} from "./decision.js";
import type { LanguageDetector } from "./detector.js";
import { UNDETERMINED } from "./detector.js";
import type { TextLanguageIdentifier } from "./text.js";

export interface ChannelLanguageTag {
  code: string;
  confidence: number;
  provisional: boolean;
}

export interface CallLanguageOptions {
  channels: readonly string[];
  /** From `open`/`update`/configuration; null when the call says nothing. */
  configured: string | null;
  /** Languages this call may be in; null: any the model knows. */
  candidates: readonly string[] | null;
  /** Builds the acoustic detector of one channel (null: no acoustic evidence, e.g. for a probe). */
  detector: ((candidates: readonly string[] | null) => LanguageDetector) | null;
  text: TextLanguageIdentifier | null;
}

/** Annotations such as `[noise]` or `[es-ES speech 1.2 s]` are not language: text LID ignores them. */
const ANNOTATION = /\[[^\]]*\]/g;

export class CallLanguage {
  private readonly detectors = new Map<string, LanguageDetector>();
  private readonly decisions = new Map<string, DecisionState>();
  /**
   * Channels whose decision came from storage or from the session this call continues: their acoustic
   * opinion stands until the channel's new detector commits, since a fresh detector knows nothing yet.
   */
  private readonly carried = new Set<string>();
  /** Samples heard per channel, and when (in seconds of audio) the tag first stopped being provisional. */
  private readonly heard = new Map<string, number>();
  private readonly confidentAfter = new Map<string, number>();
  private changes = 0;

  constructor(
    private readonly options: CallLanguageOptions,
    saved?: Record<string, DecisionState>,
  ) {
    for (const channel of options.channels) {
      const stored = saved?.[channel];
      let state = stored
        ? restoreDecisionState(stored)
        : next(initialDecisionState(options.configured), {
            kind: "candidates",
            languages: options.candidates,
          });
      if (stored) {
        this.carried.add(channel);
        // A continued call may have been opened with another language, or another set, than its predecessor.
        if (options.configured !== (stored.configured?.language ?? null))
          state = next(state, { kind: "configured", language: options.configured });
        if (JSON.stringify(options.candidates ?? null) !== JSON.stringify(stored.candidates ?? null))
          state = next(state, { kind: "candidates", languages: options.candidates });
        if (!state.decision.provisional) this.confidentAfter.set(channel, 0);
      }
      this.decisions.set(channel, state);
      if (options.detector) this.detectors.set(channel, options.detector(options.candidates));
    }
  }

  private apply(channel: string, evidence: Evidence): void {
    const state = this.decisions.get(channel);
    if (!state) return;
    const after = next(state, evidence);
    if (after === state) return;
    this.decisions.set(channel, after);
    this.changes++;
    if (!after.decision.provisional && !this.confidentAfter.has(channel))
      this.confidentAfter.set(channel, (this.heard.get(channel) ?? 0) / 8000);
  }

  /** Counts state changes, so a caller can skip serialising a snapshot that cannot have changed. */
  get version(): number {
    return this.changes;
  }

  /** Feeds a channel's PCM to its acoustic detector and the detector's estimate to the decision. */
  observe(channel: string, samples: Int16Array): void {
    this.heard.set(channel, (this.heard.get(channel) ?? 0) + samples.length);
    const detector = this.detectors.get(channel);
    if (!detector) return;
    detector.push(samples);
    const estimate = detector.current();
    if (this.carried.has(channel)) {
      if (estimate.provisional) return;
      this.carried.delete(channel);
    }
    this.apply(channel, { kind: "acoustic", estimate });
  }

  tag(channel: string): ChannelLanguageTag {
    const decision = this.decisions.get(channel)?.decision;
    if (!decision) return { code: UNDETERMINED, confidence: 0, provisional: true };
    return { code: decision.language, confidence: decision.confidence, provisional: decision.provisional };
  }

  /** `update` changed the call's language (or null: it no longer says). */
  configure(language: string | null): void {
    for (const channel of this.decisions.keys()) this.apply(channel, { kind: "configured", language });
  }

  /** A transcript came back for a channel: the engine's language, then the text's, are evidence. */
  transcript(channel: string, result: { text: string; language: string; languageConfidence: number }): void {
    if (result.language && result.language !== UNDETERMINED) {
      this.apply(channel, {
        kind: "engine",
        language: result.language,
        confidence: result.languageConfidence,
      });
    }
    const words = result.text.replace(ANNOTATION, " ").trim();
    const text = words && this.options.text?.identify(words, this.options.candidates);
    if (text) this.apply(channel, { kind: "text", ...text });
  }

  /** Each channel's tag with what decided it and when it became confident: for the call's summary line. */
  summary(): Record<
    string,
    {
      language: string;
      confidence: number;
      provisional: boolean;
      source: string;
      confidentAfterSeconds: number | null;
    }
  > {
    const out: ReturnType<CallLanguage["summary"]> = {};
    for (const [channel, state] of this.decisions) {
      const d = state.decision;
      out[channel] = {
        language: d.language,
        confidence: Math.round(d.confidence * 1000) / 1000,
        provisional: d.provisional,
        source: d.source,
        confidentAfterSeconds: this.confidentAfter.get(channel) ?? null,
      };
    }
    return out;
  }

  /** Plain JSON for storage: the decisions survive eviction (the detectors start over). */
  snapshot(): Record<string, DecisionState> {
    return Object.fromEntries(this.decisions);
  }
}
