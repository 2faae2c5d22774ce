// The fused per-channel language decision: the tag each audio chunk carries. Evidence, strongest first:
// the transcription engine's language for an utterance, the language of the transcript text, the
// configured language, the acoustic detector. A pure state machine: `next(state, evidence)` returns the
// new state; `LanguageDecision` wraps it for callers that prefer an object.
//
// Transcript text is weighed, not voted: each transcript adds its log-posteriors to a running sum in
// which older transcripts count `textDecay` as much per newer one, read beside the acoustic posteriors.
// One misread sentence therefore cannot move an opinion that several sentences built, while two
// clear ones can, and the first transcript of a call is read together with what the audio says.

import type { LanguageEstimate } from "./detector.js";
import { primaryLanguage as primary, UNDETERMINED } from "./detector.js";

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
  /** The language of a transcript's text, from a text identifier (see text.ts); "und": none of the call's.
   * Without `scores`, `language` is taken at `confidence`, and the rest as the runner-up's, whoever that is. */
  | { kind: "text"; language: string; confidence: number; scores?: Readonly<Record<string, number>> }
  /** The call's configured language (open/update/customConfig); null clears it. */
  | { kind: "configured"; language: string | null; confidence?: number }
  /** The acoustic detector's current estimate. */
  | { kind: "acoustic"; estimate: LanguageEstimate }
  /** Restrict the languages the call may be in (null: any). */
  | { kind: "candidates"; languages: readonly string[] | null };

export interface DecisionPolicy {
  /** An engine result below this confidence is ignored. */
  engineMinConfidence: number;
  /** Weight of an earlier transcript, per later one, in the text evidence (0: only the last counts). */
  textDecay: number;
  /** A transcript never counts a language as less likely than this (one sentence is never proof). */
  textFloorProbability: number;
  /** Weight of the acoustic log-posteriors beside the text evidence. */
  textAcousticWeight: number;
  /** The text opinion is final (not provisional), and outranks a configured language, from this. */
  textCommitConfidence: number;
  /** Default confidence of a configured language. */
  configuredConfidence: number;
  /** The acoustic estimate replaces a configured language only above this confidence and above it. */
  acousticOverrideConfidence: number;
}

/** The text terms were tuned on the validation split's scripted transcripts (tools/lid/README.md, Results). */
export const DEFAULT_POLICY: DecisionPolicy = {
  engineMinConfidence: 0.5,
  textDecay: 0.6,
  textFloorProbability: 1e-3,
  textAcousticWeight: 0.5,
  textCommitConfidence: 0.8,
  configuredConfidence: 0.9,
  acousticOverrideConfidence: 0.97,
};

interface Opinion {
  language: string;
  confidence: number;
}

/** Decayed sums of log-posteriors over the transcripts so far. */
export interface TextEvidence {
  /** By language (the candidate spelling). */
  log: Record<string, number>;
  /** The sum for a language no transcript has named yet. */
  floor: number;
  /** The sum for "none of the call's languages" (what identifiers left to their `other`). */
  none: number;
}

export interface DecisionState {
  candidates: readonly string[] | null;
  engine: Opinion | null;
  text: TextEvidence | null;
  configured: Opinion | null;
  acoustic: (Opinion & { provisional: boolean; posteriors?: Readonly<Record<string, number>> }) | null;
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
    configured: configured ? { language: configured, confidence: policy.configuredConfidence } : null,
    acoustic: null,
    decision: { language: UNDETERMINED, confidence: 0, provisional: true, source: "none" },
  };
  return { ...state, decision: fuse(state, policy) };
}

/** The candidate spelling of a tag ("es" -> "es-MX" when the call is set to es-MX), or null if excluded. */
function inCandidates(tag: string, candidates: readonly string[] | null): string | null {
  if (tag === UNDETERMINED) return tag;
  if (!candidates || candidates.length === 0) return tag;
  const exact = candidates.find((c) => c.toLowerCase() === tag.toLowerCase());
  return exact ?? candidates.find((c) => primary(c) === primary(tag)) ?? null;
}

/** The posterior `posteriors` gives a tag, matched by primary language; undefined if it has none. */
function posteriorOf(
  posteriors: Readonly<Record<string, number>> | undefined,
  tag: string,
): number | undefined {
  if (!posteriors) return undefined;
  if (tag in posteriors) return posteriors[tag];
  const key = Object.keys(posteriors).find((k) => primary(k) === primary(tag));
  return key === undefined ? undefined : posteriors[key];
}

/**
 * The text evidence, with the acoustic posteriors beside it, as one opinion (softmax of the sums) over
 * every language in play: those a transcript named, those the audio weighed, the configured one.
 */
function textOpinion(s: DecisionState, p: DecisionPolicy): Opinion | null {
  if (!s.text) return null;
  const acoustic = s.acoustic?.posteriors;
  // Every language the transcripts named, then the audio's and the configured one where their primary
  // language is not in play yet.
  const tags = Object.keys(s.text.log);
  const seen = new Set(tags.map(primary));
  const configured = s.configured?.language;
  for (const tag of [...Object.keys(acoustic ?? {}), ...(configured ? [configured] : [])]) {
    if (!seen.has(primary(tag))) {
      seen.add(primary(tag));
      tags.push(tag);
    }
  }
  const scored: [string, number][] = [];
  for (const tag of tags) {
    const spelled = inCandidates(tag, s.candidates);
    if (!spelled || spelled === UNDETERMINED) continue;
    const a = posteriorOf(acoustic, tag);
    const text = s.text.log[tag] ?? s.text.floor;
    scored.push([spelled, text + (a === undefined ? 0 : p.textAcousticWeight * Math.log(Math.max(a, 1e-4)))]);
  }
  if (scored.length === 0) return null;
  let [best, top] = scored[0] as [string, number];
  for (const [tag, v] of scored) if (v > top) [best, top] = [tag, v];
  // The remainder counts too: a language no evidence named (it matters when a transcript came bare); the
  // audio's share for it is what its posteriors leave over.
  let remainder = s.text.none;
  if (acoustic) {
    let named = 0;
    for (const tag of tags) named += posteriorOf(acoustic, tag) ?? 0;
    remainder += p.textAcousticWeight * Math.log(Math.max(1 - named, 1e-4));
  }
  // When the remainder leads, the text is in none of the languages in play: a refusal.
  if (remainder > top) [best, top] = [UNDETERMINED, remainder];
  let z = 0;
  for (const [, v] of [...scored, ["", remainder] as const]) z += Math.exp(v - top);
  return { language: best, confidence: 1 / z };
}

function fuse(s: DecisionState, p: DecisionPolicy): FusedLanguage {
  if (s.engine) return { ...s.engine, provisional: false, source: "engine" };
  const a = s.acoustic;
  const acousticFirm = a !== null && !a.provisional && a.language !== UNDETERMINED;
  let text = textOpinion(s, p);
  // Text in none of the call's languages outweighs the audio's guess, but not a configured language.
  if (text?.language === UNDETERMINED) {
    if (!s.configured) return { ...text, provisional: true, source: "text" };
    text = null;
  }
  const textFirm = text !== null && text.confidence >= p.textCommitConfidence;
  // A weak text opinion is still the best guess when nothing is configured, or once text has led (one
  // contrary transcript must not hand the tag back to configuration), but it is provisional.
  const textLed = s.decision.source === "text";
  if (text && (textFirm || !s.configured || textLed))
    return { ...text, provisional: !textFirm, source: "text" };
  if (s.configured) {
    const agrees =
      (acousticFirm && primary(a.language) === primary(s.configured.language)) ||
      (text !== null && primary(text.language) === primary(s.configured.language));
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

/**
 * One transcript added to the decayed sums: `scores` by language, `unnamed` the probability of a language
 * it does not name, `none` the probability that the text is in none of the call's languages.
 */
function addTranscript(
  prior: TextEvidence | null,
  scores: Readonly<Record<string, number>>,
  unnamed: number,
  none: number,
  p: DecisionPolicy,
): TextEvidence {
  const weigh = (q: number) => Math.max(Math.log(p.textFloorProbability), Math.log(q));
  const decay = (x: number | undefined) => (prior ? p.textDecay * (x ?? 0) : 0);
  const log: Record<string, number> = {};
  for (const tag of new Set([...Object.keys(prior?.log ?? {}), ...Object.keys(scores)])) {
    log[tag] = decay(prior?.log[tag] ?? prior?.floor) + weigh(scores[tag] ?? unnamed);
  }
  return {
    log,
    floor: decay(prior?.floor) + weigh(unnamed),
    none: decay(prior?.none) + weigh(none),
  };
}

/**
 * A state stored by an earlier version, brought to this one: before 2026-11-28 the text opinion was a
 * single language and confidence (and a `textPending` counter); it becomes one transcript's evidence.
 * Text evidence stored before refusals counted lacks `none`: it starts from the floor.
 */
export function restoreDecisionState(saved: DecisionState, policy = DEFAULT_POLICY): DecisionState {
  const legacy = saved.text as unknown as (Opinion & { log?: undefined }) | null;
  if (saved.text && saved.text.none === undefined && saved.text.log !== undefined)
    return { ...saved, text: { ...saved.text, none: saved.text.floor } }; // stored before refusals counted
  if (!legacy || legacy.log !== undefined) return saved;
  const { textPending: _dropped, ...kept } = saved as DecisionState & { textPending?: unknown };
  const remainder = 1 - legacy.confidence;
  const text = addTranscript(null, { [legacy.language]: legacy.confidence }, remainder, remainder, policy);
  return { ...kept, text };
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
      // A bare result for a language the call excludes says nothing; a refusal ("und") with scores does.
      if (!lang || (lang === UNDETERMINED && !e.scores)) break;
      const scores: Record<string, number> = {};
      for (const [tag, q] of Object.entries(e.scores ?? { [e.language]: e.confidence })) {
        const spelled = inCandidates(tag, s.candidates);
        if (spelled && spelled !== UNDETERMINED) scores[spelled] = Math.max(scores[spelled] ?? 0, q);
      }
      // An identifier's scores cover every candidate it weighed, and what they leave is its `other`. A bare
      // result leaves its remainder to whichever language came second, named or not, or none of them.
      const named = Object.values(scores).reduce((a, q) => a + q, 0);
      const text = e.scores
        ? addTranscript(s.text, scores, 0, Math.max(0, 1 - named), policy)
        : addTranscript(s.text, scores, 1 - e.confidence, 1 - e.confidence, policy);
      s = { ...s, text };
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
      const { confidence, provisional, posteriors } = e.estimate;
      // The detector decides every 0.5 s of speech and repeats itself in between (same posteriors object):
      // nothing to recompute then, and this runs for every audio frame.
      const was = s.acoustic;
      if (
        was &&
        lang === was.language &&
        confidence === was.confidence &&
        provisional === was.provisional &&
        posteriors === was.posteriors
      )
        return s;
      s = { ...s, acoustic: lang ? { language: lang, confidence, provisional, posteriors } : null };
      break;
    }
    case "candidates": {
      // What the audio said stands only within the new set (re-spelled to it); a refusal ("und") stands.
      const a = s.acoustic;
      const spelled = a && a.language !== UNDETERMINED ? inCandidates(a.language, e.languages) : undefined;
      const acoustic = a && spelled !== undefined ? (spelled ? { ...a, language: spelled } : null) : a;
      s = { ...s, candidates: e.languages, acoustic };
      break;
    }
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
