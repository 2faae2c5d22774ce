import { describe, expect, it } from "vitest";
import { CallLanguage, type CallLanguageOptions } from "../../../src/detect/call-language.js";
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
});
