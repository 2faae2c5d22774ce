// tinyld's light build as a text identifier: the product's identifier until 2026-11-28, kept only as
// the baseline that tools/lid/eval.ts measures the shipped one against (tinyld is a devDependency).

import { detectAll } from "tinyld/light";
import type { TextLanguage, TextLanguageIdentifier } from "../../src/detect/text.js";

export class TinyldTextIdentifier implements TextLanguageIdentifier {
  identify(text: string, candidates?: readonly string[] | null): TextLanguage | null {
    if (text.trim().split(/\s+/).length < 3) return null;
    const primaries = candidates?.map((c) => c.split("-")[0]?.toLowerCase() ?? "") ?? null;
    const results = detectAll(text, primaries ? { only: primaries } : {});
    const best = results[0];
    if (!best) return null;
    const spell = (lang: string) => candidates?.find((c) => c.split("-")[0]?.toLowerCase() === lang) ?? lang;
    // tinyld's `accuracy` is an unnormalised score: its share of the total stands in for a posterior.
    const total = results.reduce((a, r) => a + r.accuracy, 0);
    const scores = Object.fromEntries(
      results.map((r) => [spell(r.lang), total > 0 ? r.accuracy / total : 0]),
    );
    return { language: spell(best.lang), confidence: scores[spell(best.lang)] ?? 0, scores };
  }
}
