import { describe, expect, it } from "vitest";
import { CallLanguage } from "../../../src/detect/call-language.js";
import { bundledTextIdentifier, createAcousticDetector } from "../../../src/detect/index.js";

const call = () =>
  new CallLanguage({
    channels: ["external", "internal"],
    configured: null,
    candidates: ["en-US", "es-ES"],
    detector: (candidates) => createAcousticDetector({ candidates }),
    text: bundledTextIdentifier(),
  });

describe("CallLanguage", () => {
  it("tags a channel from its transcript text, and leaves the other channel alone", () => {
    const c = call();
    c.transcript("external", {
      text: "hola quiero cambiar la dirección de mi cuenta",
      language: "",
      languageConfidence: 0,
    });
    expect(c.tag("external")).toMatchObject({ code: "es-ES", provisional: false });
    expect(c.tag("internal")).toMatchObject({ code: "und", provisional: true });
  });

  it("counts a change only when a decision state changes, so silence costs no serialisation", () => {
    const c = call();
    const silence = new Int16Array(160);
    c.observe("external", silence);
    const settled = c.version;
    for (let i = 0; i < 200; i++) c.observe("external", silence);
    expect(c.version).toBe(settled);
    c.transcript("external", {
      text: "hello I would like to check my balance",
      language: "",
      languageConfidence: 0,
    });
    expect(c.version).toBeGreaterThan(settled);
  });

  it("survives a snapshot round trip through JSON (eviction)", () => {
    const c = call();
    c.transcript("external", {
      text: "hola quiero cambiar la dirección de mi cuenta",
      language: "",
      languageConfidence: 0,
    });
    const options = {
      channels: ["external", "internal"],
      configured: null,
      candidates: ["en-US", "es-ES"],
      detector: null,
      text: bundledTextIdentifier(),
    };
    const restored = new CallLanguage(options, JSON.parse(JSON.stringify(c.snapshot())));
    expect(restored.tag("external")).toEqual(c.tag("external"));
  });
});
