import { describe, expect, it } from "vitest";
import textModel from "../../../src/detect/model/text-ngrams.json";
import { ModelFormatError } from "../../../src/detect/model.js";
import { type NgramModelJson, NgramTextIdentifier, normalize } from "../../../src/detect/text.js";
import fixture from "./text-fixture.json";

const json = textModel as NgramModelJson;

describe("normalize", () => {
  it("keeps letters, marks and apostrophes, lower-cased between single spaces", () => {
    expect(normalize("  Émettre un BIP, lorsqu’une touche (n°2) est acceptée!  ")).toBe(
      " émettre un bip lorsqu'une touche n est acceptée ",
    );
    expect(normalize("")).toBe("  ");
  });
});

describe("NgramTextIdentifier", () => {
  const identifier = new NgramTextIdentifier(json);

  it("reproduces the training script's log-likelihoods on fixed sentences", () => {
    expect(fixture.temperature).toBe(json.temperature);
    for (const c of fixture.cases) {
      const { loglik, grams } = identifier.loglik(c.text);
      expect(grams, c.text).toBe(c.grams);
      identifier.labels.forEach((label, l) => {
        expect(loglik[l], `${c.text} / ${label}`).toBeCloseTo(
          (c.loglik as Record<string, number>)[label] ?? 0,
          6,
        );
      });
    }
  });

  it("names the language of held-out sentences in each of its languages", () => {
    const cases: [string, string][] = [
      ["I would like to change the address on my account please", "en-US"],
      ["quisiera cambiar la dirección de mi cuenta por favor", "es-ES"],
      ["je voudrais changer l'adresse de mon compte s'il vous plaît", "fr-FR"],
      ["ich möchte bitte die Adresse meines Kontos ändern", "de-DE"],
      ["vorrei cambiare l'indirizzo del mio conto per favore", "it-IT"],
      ["eu gostaria de mudar o endereço da minha conta por favor", "pt-BR"],
      ["ik wil graag het adres van mijn rekening wijzigen", "nl-NL"],
    ];
    for (const [text, language] of cases) {
      const r = identifier.identify(text);
      expect(r?.language, text).toBe(language);
      expect(r?.confidence).toBeGreaterThan(0.5);
      expect(Object.values(r?.scores ?? {}).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-9);
    }
  });

  it("answers in the call's spelling and weighs only the call's languages", () => {
    const r = identifier.identify("quisiera cambiar la dirección de mi cuenta", ["en-US", "es-MX"]);
    expect(r?.language).toBe("es-MX");
    expect(Object.keys(r?.scores ?? {}).sort()).toEqual(["en-US", "es-MX"]);
  });

  it("says a text is in none of its languages (Polish, Russian), and nothing of text too short to judge", () => {
    const polish = identifier.identify("Nie mogę znaleźć pliku konfiguracyjnego w katalogu domowym");
    expect(polish?.language).toBe("und");
    expect(Object.values(polish?.scores ?? {}).every((q) => q < 0.2)).toBe(true);
    expect(identifier.identify("не удалось открыть файл конфигурации")?.language).toBe("und");
    expect(identifier.identify("yes ok")).toBeNull();
    expect(identifier.identify("12 34 56 78")).toBeNull();
  });

  it("rejects a damaged model with a specific error", () => {
    const broken = { ...json, logp: { ...json.logp, "es-ES": (json.logp["es-ES"] ?? "").slice(1) } };
    expect(() => new NgramTextIdentifier(broken)).toThrow(ModelFormatError);
    expect(() => new NgramTextIdentifier({ ...json, grams: ["ab c"] })).toThrow(ModelFormatError);
  });
});
