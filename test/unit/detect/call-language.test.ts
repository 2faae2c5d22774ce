import { describe, expect, it } from "vitest";
import { CallLanguage, type CallLanguageOptions } from "../../../src/detect/call-language.js";
import { initialDecisionState, next } from "../../../src/detect/decision.js";
import { bundledTextIdentifier, createAcousticDetector } from "../../../src/detect/index.js";

const options = (withDetector = true): CallLanguageOptions => ({
  channels: ["external", "internal"],
  configured: null,
  candidates: ["en-US", "es-ES"],
  detector: withDetector ? (candidates) => createAcousticDetector({ candidates }) : null,
  text: bundledTextIdentifier(),
});
const spoken = (text: string) => ({ text, language: "", languageConfidence: 0 });
const SPANISH = "hola quiero cambiar la dirección de mi cuenta";

describe("CallLanguage", () => {
  it("tags a channel from its transcript text, and leaves the other channel alone", () => {
    const c = new CallLanguage(options());
    c.transcript("external", spoken(SPANISH));
    expect(c.tag("external")).toMatchObject({ code: "es-ES", provisional: false });
    expect(c.tag("internal")).toMatchObject({ code: "und", provisional: true });
  });

  it("counts a change only when a decision state changes, so silence costs no serialisation", () => {
    const c = new CallLanguage(options());
    const silence = new Int16Array(160);
    c.observe("external", silence);
    const settled = c.version;
    for (let i = 0; i < 200; i++) c.observe("external", silence);
    expect(c.version).toBe(settled);
    c.transcript("external", spoken("hello I would like to check my balance"));
    expect(c.version).toBeGreaterThan(settled);
  });

  it("survives a snapshot round trip through JSON (eviction)", () => {
    const c = new CallLanguage(options());
    c.transcript("external", spoken(SPANISH));
    const restored = new CallLanguage(options(false), JSON.parse(JSON.stringify(c.snapshot())));
    expect(restored.tag("external")).toEqual(c.tag("external"));
  });

  it("holds carried decisions to this call's languages, not the predecessor's", () => {
    // The call this one continues knew no language set, and its audio was firmly German.
    const german = next(next(initialDecisionState(null), { kind: "candidates", languages: null }), {
      kind: "acoustic",
      estimate: { language: "de-DE", confidence: 0.96, provisional: false },
    });
    expect(german.decision).toMatchObject({ language: "de-DE", provisional: false });
    const carried = { external: german, internal: german };
    // This call may only be in English or Spanish: German is not an answer it can give.
    const narrowed = new CallLanguage(options(false), JSON.parse(JSON.stringify(carried)));
    expect(narrowed.tag("external").code).not.toBe("de-DE");
    expect(narrowed.tag("external")).toMatchObject({ provisional: true });
    // With the same (open) set, the carried decision stands.
    const open = new CallLanguage(
      { ...options(false), candidates: null },
      JSON.parse(JSON.stringify(carried)),
    );
    expect(open.tag("external")).toMatchObject({ code: "de-DE", provisional: false });
    // A carried language within the set is kept, spelled as this call spells it.
    const spanish = next(initialDecisionState(null), {
      kind: "acoustic",
      estimate: { language: "es-MX", confidence: 0.95, provisional: false },
    });
    const kept = new CallLanguage(options(false), { external: spanish, internal: spanish });
    expect(kept.tag("external")).toMatchObject({ code: "es-ES", provisional: false });
  });
});
