// Text language of a transcript, from tinyld's light build (pure JS, ~70 KB, no WASM): the evidence that
// confirms or corrects the acoustic tag once the engine returns text.

import { detectAll } from "tinyld/light";

export interface TextLanguage {
  /** The candidate tag ("es-MX") when candidates are given, else the ISO 639-1 code ("es"). */
  language: string;
  confidence: number;
}

export interface TextLanguageIdentifier {
  identify(text: string, candidates?: readonly string[] | null): TextLanguage | null;
}

/** Fewer words than this and n-gram text LID is a coin toss: say nothing. */
const MIN_WORDS = 3;

export class TinyldTextIdentifier implements TextLanguageIdentifier {
  identify(text: string, candidates?: readonly string[] | null): TextLanguage | null {
    if (text.trim().split(/\s+/).length < MIN_WORDS) return null;
    const primaries = candidates?.map((c) => c.split("-")[0]?.toLowerCase() ?? "") ?? null;
    const results = detectAll(text, primaries ? { only: primaries } : {});
    const best = results[0];
    if (!best) return null;
    const tag = candidates?.find((c) => c.split("-")[0]?.toLowerCase() === best.lang) ?? best.lang;
    // tinyld's `accuracy` is an unnormalised score: how far the winner leads the runner-up is what we trust.
    const second = results[1]?.accuracy ?? 0;
    const sum = best.accuracy + second;
    return { language: tag, confidence: sum > 0 ? best.accuracy / sum : 0 };
  }
}
