// The fused per-channel language decision: the tag each audio chunk carries. Evidence, strongest first:
// the transcription engine's language for an utterance, the language of the transcript text, the
// configured language, the acoustic detector. A pure state machine: `next(state, evidence)` returns the
// new state; `LanguageDecision` wraps it for callers that prefer an object.

import type { LanguageEstimate } from "./detector.js";
import { UNDETERMINED } from "./detector.js";

export type DecisionSource = "engine" | "text" | "configured" | "acoustic" | "none";

export interface FusedLanguage {
  language: string;
  confidence: number;
  provisional: boolean;
  source: DecisionSource;
}

export type Evidence =
  /** The engine's language for one utterance (confidence absent: engine did not say, taken as 0.9). */
  | { kind: "engine"; language: string; confidence?: number }
  /** The language of a transcript's text, from a text identifier (see text.ts). */
  | { kind: "text"; language: string; confidence: number }
  /** The call's configured language (open/update/customConfig); null clears it. */
  | { kind: "configured"; language: string | null; confidence?: number }
  /** The acoustic detector's current estimate. */
  | { kind: "acoustic"; estimate: LanguageEstimate }
  /** Restrict the languages the call may be in (null: any). */
  | { kind: "candidates"; languages: readonly string[] | null };

export interface DecisionPolicy {
  /** An engine result below this confidence is ignored. */
  engineMinConfidence: number;
  /** A text result below this confidence is ignored. */
  textMinConfidence: number;
  /** Consecutive agreeing text results needed to move the text opinion to another language. */
  textSwitchCount: number;
  /** A single text result sets the first text opinion only at this confidence (or with acoustic support). */
  textFirstConfidence: number;
  /** Default confidence of a configured language. */
  configuredConfidence: number;
  /** The acoustic estimate replaces a configured language only above this confidence and above it. */
  acousticOverrideConfidence: number;
}

export const DEFAULT_POLICY: DecisionPolicy = {
  engineMinConfidence: 0.5,
  textMinConfidence: 0.55,
  textSwitchCount: 2,
  textFirstConfidence: 0.8,
  configuredConfidence: 0.9,
  acousticOverrideConfidence: 0.97,
};

interface Opinion {
  language: string;
  confidence: number;
}

export interface DecisionState {
  candidates: readonly string[] | null;
  engine: Opinion | null;
  text: Opinion | null;
  textPending: Opinion & { count: number };
  configured: Opinion | null;
  acoustic: (Opinion & { provisional: boolean }) | null;
  decision: FusedLanguage;
}

export function initialDecisionState(
  configured: string | null = null,
  policy = DEFAULT_POLICY,
): DecisionState {
  const state: DecisionState = {
    candidates: null,
    engine: null,
    text: null,
    textPending: { language: UNDETERMINED, confidence: 0, count: 0 },
    configured: configured ? { language: configured, confidence: policy.configuredConfidence } : null,
    acoustic: null,
    decision: { language: UNDETERMINED, confidence: 0, provisional: true, source: "none" },
  };
  return { ...state, decision: fuse(state, policy) };
}

const primary = (tag: string): string => tag.split("-")[0]?.toLowerCase() ?? "";

/** The candidate spelling of a tag ("es" -> "es-MX" when the call is set to es-MX), or null if excluded. */
function inCandidates(tag: string, candidates: readonly string[] | null): string | null {
  if (tag === UNDETERMINED) return tag;
  if (!candidates || candidates.length === 0) return tag;
  const exact = candidates.find((c) => c.toLowerCase() === tag.toLowerCase());
  return exact ?? candidates.find((c) => primary(c) === primary(tag)) ?? null;
}

function fuse(s: DecisionState, p: DecisionPolicy): FusedLanguage {
  if (s.engine) return { ...s.engine, provisional: false, source: "engine" };
  if (s.text) return { ...s.text, provisional: false, source: "text" };
  const a = s.acoustic;
  const acousticFirm = a !== null && !a.provisional && a.language !== UNDETERMINED;
  if (s.configured) {
    const agrees = acousticFirm && primary(a.language) === primary(s.configured.language);
    const overrides =
      acousticFirm &&
      !agrees &&
      a.confidence >= p.acousticOverrideConfidence &&
      a.confidence > s.configured.confidence;
    if (overrides)
      return { language: a.language, confidence: a.confidence, provisional: false, source: "acoustic" };
    return { ...s.configured, provisional: !agrees, source: "configured" };
  }
  if (acousticFirm)
    return { language: a.language, confidence: a.confidence, provisional: false, source: "acoustic" };
  return { language: UNDETERMINED, confidence: a?.confidence ?? 0, provisional: true, source: "none" };
}

export function next(state: DecisionState, e: Evidence, policy = DEFAULT_POLICY): DecisionState {
  let s = state;
  switch (e.kind) {
    case "engine": {
      const conf = e.confidence ?? 0.9;
      const lang = inCandidates(e.language, s.candidates) ?? e.language; // the engine outranks the set
      if (conf >= policy.engineMinConfidence && lang !== UNDETERMINED)
        s = { ...s, engine: { language: lang, confidence: conf } };
      break;
    }
    case "text": {
      const lang = inCandidates(e.language, s.candidates);
      if (!lang || lang === UNDETERMINED || e.confidence < policy.textMinConfidence) break;
      if (s.text && primary(s.text.language) === primary(lang)) {
        s = {
          ...s,
          text: { language: s.text.language, confidence: e.confidence },
          textPending: { ...s.textPending, count: 0 },
        };
        break;
      }
      const count = primary(s.textPending.language) === primary(lang) ? s.textPending.count + 1 : 1;
      // A first text opinion needs one clear result (or one the acoustic estimate agrees with); moving an
      // existing one needs `textSwitchCount` agreeing results in a row.
      const a = s.acoustic;
      const acousticAgrees = a !== null && !a.provisional && primary(a.language) === primary(lang);
      const clearFirst = !s.text && (e.confidence >= policy.textFirstConfidence || acousticAgrees);
      if (clearFirst || count >= policy.textSwitchCount) {
        s = {
          ...s,
          text: { language: lang, confidence: e.confidence },
          textPending: { language: lang, confidence: 0, count: 0 },
        };
      } else {
        s = { ...s, textPending: { language: lang, confidence: e.confidence, count } };
      }
      break;
    }
    case "configured":
      s = {
        ...s,
        configured: e.language
          ? { language: e.language, confidence: e.confidence ?? policy.configuredConfidence }
          : null,
      };
      break;
    case "acoustic": {
      const lang = inCandidates(e.estimate.language, s.candidates);
      s = {
        ...s,
        acoustic: lang
          ? { language: lang, confidence: e.estimate.confidence, provisional: e.estimate.provisional }
          : null,
      };
      break;
    }
    case "candidates":
      s = { ...s, candidates: e.languages };
      break;
  }
  return { ...s, decision: fuse(s, policy) };
}

/** Object wrapper around `next` for the session: one per channel. */
export class LanguageDecision {
  private state: DecisionState;

  constructor(
    configured: string | null = null,
    private readonly policy: DecisionPolicy = DEFAULT_POLICY,
  ) {
    this.state = initialDecisionState(configured, policy);
  }

  /** Apply evidence; returns the decision and whether the tag changed. */
  update(evidence: Evidence): { decision: FusedLanguage; changed: boolean } {
    const before = this.state.decision;
    this.state = next(this.state, evidence, this.policy);
    const after = this.state.decision;
    return {
      decision: after,
      changed: after.language !== before.language || after.provisional !== before.provisional,
    };
  }

  current(): FusedLanguage {
    return this.state.decision;
  }

  snapshot(): DecisionState {
    return this.state;
  }
}
