// Public surface of the language detection modules: VAD, features, the acoustic detector with its bundled
// weights, the fused per-channel decision and the transcript text identifier.

import { type AcousticDetectorOptions, AcousticLanguageDetector } from "./detector.js";
import textModel from "./model/text-ngrams.json";
import weights from "./model/weights.json";
import { LanguageModel, type ModelJson } from "./model.js";
import { type NgramModelJson, NgramTextIdentifier } from "./text.js";

export type {
  DecisionPolicy,
  DecisionSource,
  DecisionState,
  Evidence,
  FusedLanguage,
  TextEvidence,
} from "./decision.js";
export {
  DEFAULT_POLICY,
  initialDecisionState,
  LanguageDecision,
  next,
  restoreDecisionState,
} from "./decision.js";
export type { AcousticDetectorOptions, LanguageDetector, LanguageEstimate } from "./detector.js";
export { AcousticLanguageDetector, UNDETERMINED } from "./detector.js";
export type { SpectralFrame } from "./features.js";
export { LogMelExtractor, StreamingCmn } from "./features.js";
export type { FrontEndFrame } from "./frontend.js";
export { FrontEnd } from "./frontend.js";
export type { ModelJson } from "./model.js";
export { LanguageModel, ModelFormatError, StreamingPooler } from "./model.js";
export type { NgramModelJson, TextLanguage, TextLanguageIdentifier } from "./text.js";
export { NgramTextIdentifier } from "./text.js";
export type { VadFrame, VadOptions } from "./vad.js";
export { VoiceActivityDetector } from "./vad.js";

let bundled: LanguageModel | null = null;
let bundledText: NgramTextIdentifier | null = null;

/** The shipped model, decoded once per isolate (shared by every channel: it holds no per-call state). */
export function bundledModel(): LanguageModel {
  bundled ??= new LanguageModel(weights as ModelJson);
  return bundled;
}

/** A detector for one channel with the shipped model. */
export function createAcousticDetector(options: AcousticDetectorOptions = {}): AcousticLanguageDetector {
  return new AcousticLanguageDetector(bundledModel(), options);
}

/** The shipped transcript-text identifier, decoded once per isolate (stateless, shared by every call). */
export function bundledTextIdentifier(): NgramTextIdentifier {
  bundledText ??= new NgramTextIdentifier(textModel as NgramModelJson);
  return bundledText;
}
