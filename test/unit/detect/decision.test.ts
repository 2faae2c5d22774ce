import { describe, expect, it } from "vitest";
import { LanguageDecision } from "../../../src/detect/decision.js";
import type { LanguageEstimate } from "../../../src/detect/detector.js";
import { TinyldTextIdentifier } from "../../../src/detect/text.js";

const acoustic = (language: string, confidence: number, provisional = false) => ({
  kind: "acoustic" as const,
  estimate: { language, confidence, provisional } satisfies LanguageEstimate,
});

describe("LanguageDecision", () => {
  it("starts undetermined and provisional without configuration", () => {
    expect(new LanguageDecision().current()).toMatchObject({
      language: "und",
      provisional: true,
      source: "none",
    });
  });

  it("carries the configured language, provisional until evidence agrees", () => {
    const d = new LanguageDecision("es-ES");
    expect(d.current()).toMatchObject({ language: "es-ES", provisional: true, source: "configured" });
    d.update(acoustic("es-ES", 0.8));
    expect(d.current()).toMatchObject({ language: "es-ES", provisional: false });
  });

  it("never lets a weak acoustic guess override a confident configured language", () => {
    const d = new LanguageDecision("es-ES");
    for (const c of [0.6, 0.8, 0.9, 0.95]) {
      d.update(acoustic("it-IT", c));
      expect(d.current().language).toBe("es-ES");
    }
    d.update(acoustic("it-IT", 0.3, true));
    expect(d.current().language).toBe("es-ES");
  });

  it("lets a near-certain acoustic estimate override, and an engine result override everything", () => {
    const d = new LanguageDecision("es-ES");
    d.update(acoustic("fr-FR", 0.99));
    expect(d.current()).toMatchObject({ language: "fr-FR", source: "acoustic" });
    d.update({ kind: "engine", language: "de-DE", confidence: 0.9 });
    expect(d.current()).toMatchObject({ language: "de-DE", source: "engine", provisional: false });
    d.update(acoustic("fr-FR", 0.99));
    d.update({ kind: "text", language: "fr-FR", confidence: 1 });
    expect(d.current().language).toBe("de-DE");
  });

  it("switches at once when the engine reports a different language for an utterance", () => {
    const d = new LanguageDecision("en-US");
    d.update({ kind: "engine", language: "en-US" });
    const r = d.update({ kind: "engine", language: "es-ES", confidence: 0.8 });
    expect(r).toMatchObject({ changed: true, decision: { language: "es-ES" } });
  });

  it("ignores an engine result below its minimum confidence", () => {
    const d = new LanguageDecision("en-US");
    d.update({ kind: "engine", language: "es-ES", confidence: 0.2 });
    expect(d.current().language).toBe("en-US");
  });

  it("text outranks configuration and needs two agreeing transcripts to move (hysteresis)", () => {
    const d = new LanguageDecision("en-US");
    d.update({ kind: "text", language: "es-ES", confidence: 0.9 });
    expect(d.current()).toMatchObject({ language: "es-ES", source: "text" });
    const flips: string[] = [];
    for (const lang of ["fr-FR", "es-ES", "fr-FR", "es-ES"]) {
      d.update({ kind: "text", language: lang, confidence: 0.9 });
      flips.push(d.current().language);
    }
    expect(flips).toEqual(["es-ES", "es-ES", "es-ES", "es-ES"]); // alternating noise never flips it
    d.update({ kind: "text", language: "fr-FR", confidence: 0.9 });
    d.update({ kind: "text", language: "fr-FR", confidence: 0.9 });
    expect(d.current().language).toBe("fr-FR"); // a real change does
  });

  it("needs a clear first transcript, a second agreeing one, or acoustic support to adopt a text language", () => {
    const d = new LanguageDecision("en-US");
    d.update({ kind: "text", language: "pt-BR", confidence: 0.6 });
    expect(d.current().language).toBe("en-US");
    d.update({ kind: "text", language: "pt-BR", confidence: 0.6 });
    expect(d.current()).toMatchObject({ language: "pt-BR", source: "text" });
    const e = new LanguageDecision(null);
    e.update(acoustic("pt-BR", 0.8));
    e.update({ kind: "text", language: "pt-BR", confidence: 0.6 });
    expect(e.current().source).toBe("text");
  });

  it("maps evidence onto the call's candidate spelling and drops what the set excludes", () => {
    const d = new LanguageDecision(null);
    d.update({ kind: "candidates", languages: ["es-MX", "en-US"] });
    d.update(acoustic("es-ES", 0.9));
    expect(d.current().language).toBe("es-MX");
    d.update(acoustic("it-IT", 0.9));
    expect(d.current().language).toBe("und");
    d.update({ kind: "text", language: "it", confidence: 1 });
    expect(d.current().source).not.toBe("text");
  });

  it("confirms with real transcript text through tinyld", () => {
    const text = new TinyldTextIdentifier();
    const d = new LanguageDecision("en-US");
    const t = text.identify("hola buenos días quiero cambiar la dirección de mi cuenta", ["en-US", "es-ES"]);
    expect(t?.language).toBe("es-ES");
    if (t) d.update({ kind: "text", ...t });
    expect(d.current()).toMatchObject({ language: "es-ES", provisional: false });
    expect(text.identify("yes ok")).toBeNull();
  });
});
