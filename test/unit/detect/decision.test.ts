import { describe, expect, it } from "vitest";
import {
  type DecisionState,
  initialDecisionState,
  LanguageDecision,
  next,
  restoreDecisionState,
} from "../../../src/detect/decision.js";
import type { LanguageEstimate } from "../../../src/detect/detector.js";
import { bundledTextIdentifier } from "../../../src/detect/index.js";

const acoustic = (
  language: string,
  confidence: number,
  provisional = false,
  posteriors?: Record<string, number>,
) => ({
  kind: "acoustic" as const,
  estimate: { language, confidence, provisional, posteriors } satisfies LanguageEstimate,
});
const text = (language: string, confidence: number) => ({ kind: "text" as const, language, confidence });

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

  it("text outranks configuration; one misread transcript cannot move what several built, two can", () => {
    const d = new LanguageDecision("en-US");
    d.update(text("es-ES", 0.95));
    expect(d.current()).toMatchObject({ language: "es-ES", source: "text", provisional: false });
    d.update(text("es-ES", 0.95));
    d.update(text("es-ES", 0.95));
    d.update(text("fr-FR", 0.95));
    // Hysteresis: one contrary sentence is not a change (the tag stays, provisional, and stays text's).
    expect(d.current()).toMatchObject({ language: "es-ES", source: "text", provisional: true });
    d.update(text("fr-FR", 0.95));
    expect(d.current()).toMatchObject({ language: "fr-FR", source: "text" }); // a real change moves it
  });

  it("reads a weak first transcript with the audio: provisional alone, firm with acoustic support", () => {
    const d = new LanguageDecision("en-US");
    d.update(text("pt-BR", 0.6));
    expect(d.current()).toMatchObject({ language: "en-US", source: "configured", provisional: true });
    d.update(acoustic("pt-BR", 0.97, false, { "pt-BR": 0.97, "en-US": 0.01, "es-ES": 0.01 }));
    expect(d.current()).toMatchObject({ language: "pt-BR", source: "text", provisional: false });

    const e = new LanguageDecision(null);
    e.update(text("pt-BR", 0.6));
    expect(e.current()).toMatchObject({ language: "pt-BR", source: "text", provisional: true });
    // The same weak text against audio that hears Spanish: the audio tips it.
    e.update(acoustic("und", 0.7, true, { "pt-BR": 0.05, "es-ES": 0.9 }));
    expect(e.current().language).toBe("es-ES");
  });

  it("lets text in none of the call's languages refuse the audio's guess, but not a configured language", () => {
    const foreign = {
      kind: "text" as const,
      language: "und",
      confidence: 0.9,
      scores: { "es-ES": 0.05, "it-IT": 0.05 },
    };
    const d = new LanguageDecision(null);
    d.update(acoustic("es-ES", 0.92, false, { "es-ES": 0.92, "it-IT": 0.05 }));
    expect(d.current()).toMatchObject({ language: "es-ES", source: "acoustic" });
    d.update(foreign);
    expect(d.current()).toMatchObject({ language: "und", source: "text", provisional: true });
    const e = new LanguageDecision("es-ES");
    e.update(foreign);
    expect(e.current()).toMatchObject({ language: "es-ES", source: "configured" });
    // Real Russian through the bundled identifier (another script: no scores at all) refuses too.
    const russian = bundledTextIdentifier().identify("не удалось открыть файл конфигурации");
    const f = new LanguageDecision(null);
    f.update(acoustic("es-ES", 0.92, false, { "es-ES": 0.92, "it-IT": 0.05 }));
    if (russian) f.update({ kind: "text", ...russian });
    expect(f.current()).toMatchObject({ language: "und", source: "text" });
  });

  it("does no work for an acoustic estimate that repeats the last one (every frame between decisions)", () => {
    const posteriors = { "es-ES": 0.9, "it-IT": 0.05 };
    const e = acoustic("es-ES", 0.9, false, posteriors);
    const s1 = next(initialDecisionState(null), e);
    expect(next(s1, acoustic("es-ES", 0.9, false, posteriors))).toBe(s1);
    expect(next(s1, acoustic("es-ES", 0.9, false, { ...posteriors }))).not.toBe(s1); // a new decision
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

  it("confirms with real transcript text through the bundled identifier", () => {
    const identifier = bundledTextIdentifier();
    const d = new LanguageDecision("en-US");
    const t = identifier.identify("hola buenos días quiero cambiar la dirección de mi cuenta", [
      "en-US",
      "es-MX",
    ]);
    expect(t?.language).toBe("es-MX");
    if (t) d.update({ kind: "text", ...t });
    expect(d.current()).toMatchObject({ language: "es-MX", provisional: false });
    expect(identifier.identify("yes ok")).toBeNull();
  });

  it("restores a decision stored before text evidence was weighed", () => {
    const legacy = {
      candidates: null,
      engine: null,
      text: { language: "fr-FR", confidence: 0.9 },
      textPending: { language: "und", confidence: 0, count: 0 },
      configured: null,
      acoustic: null,
      decision: { language: "fr-FR", confidence: 0.9, provisional: false, source: "text" },
    } as unknown as DecisionState;
    const d = new LanguageDecision(null);
    Object.assign(d, { state: restoreDecisionState(legacy) });
    expect(d.snapshot()).not.toHaveProperty("textPending");
    d.update(acoustic("und", 0, true));
    expect(d.current()).toMatchObject({ language: "fr-FR", source: "text" });
    d.update(text("de-DE", 0.95));
    d.update(text("de-DE", 0.95));
    expect(d.current().language).toBe("de-DE");
    // Weighed evidence stored before refusals counted has no "none" sum: it starts from the floor.
    const weighed = { ...legacy, text: { log: { "fr-FR": -0.1 }, floor: -6.9 } } as unknown as DecisionState;
    expect(restoreDecisionState(weighed).text).toEqual({ log: { "fr-FR": -0.1 }, floor: -6.9, none: -6.9 });
  });
});
