import { describe, expect, it } from "vitest";
import { AcousticLanguageDetector } from "../../../src/detect/detector.js";
import { bundledModel, createAcousticDetector } from "../../../src/detect/index.js";
import { speechClip } from "./fixtures.js";
import { concat, dtmf, holdMusic, noise, rng, tones } from "./signals.js";

const gap = () => noise(0.3, -60, 5);
const repeat = (x: Int16Array, n: number) => concat(...Array.from({ length: n }, () => concat(x, gap())));

/** Push in irregular chunks (as frames arrive from the gateway) and record the tag after each chunk. */
function run(det: AcousticLanguageDetector, x: Int16Array, seed = 1): string[] {
  const r = rng(seed);
  const tags: string[] = [];
  for (let i = 0; i < x.length; ) {
    const n = 1 + Math.floor(r() * 400);
    det.push(x.subarray(i, i + n));
    i += n;
    const c = det.current();
    tags.push(c.provisional ? `~${c.language}` : c.language);
  }
  return tags;
}

describe("AcousticLanguageDetector", () => {
  it("stays provisional and undetermined on silence, tones, DTMF and hold music", () => {
    const det = createAcousticDetector();
    const x = concat(
      new Int16Array(8000),
      tones([440, 480], 6, -15, [2, 4]),
      dtmf(20),
      tones([480, 620], 3, -15, [0.5, 0.5]),
      holdMusic(8),
    );
    const tags = run(det, x);
    expect(new Set(tags)).toEqual(new Set(["~und"]));
    expect(det.speechSeconds).toBeLessThan(1);
  });

  it("reports the fallback language while provisional", () => {
    const det = createAcousticDetector({ fallbackLanguage: "es-MX" });
    det.push(new Int16Array(8000));
    expect(det.current()).toEqual({ language: "es-MX", confidence: 0, provisional: true });
  });

  it("gives the same answer whatever the chunking", () => {
    const x = repeat(speechClip("speech-es"), 2);
    const a = createAcousticDetector();
    const b = createAcousticDetector();
    a.push(x);
    run(b, x, 7);
    expect(b.current()).toEqual(a.current());
    expect(b.posteriors()).toEqual(a.posteriors());
  });

  it("commits only once a posterior reaches its threshold", () => {
    const x = repeat(speechClip("speech-es"), 3);
    /** Feeds x; returns the highest provisional posterior seen and the first committed estimate. */
    const feed = (commitConfidence: number) => {
      const det = new AcousticLanguageDetector(bundledModel(), { commitConfidence });
      let best = 0;
      for (let i = 0; i < x.length; i += 400) {
        det.push(x.subarray(i, i + 400));
        const c = det.current();
        if (!c.provisional) return { best, committed: c };
        best = Math.max(best, c.confidence);
      }
      return { best, committed: null };
    };
    const never = feed(2); // an impossible bar: learn the highest posterior this speech reaches
    expect(never.committed).toBeNull();
    expect(never.best).toBeGreaterThan(0.5);
    const below = feed(never.best * 0.999);
    expect(below.committed?.language).toBe("es-ES");
    expect(below.committed?.confidence).toBeGreaterThanOrEqual(never.best * 0.999);
    if (never.best < 1) expect(feed((never.best + 1) / 2).committed).toBeNull();
  });

  it("tags Spanish then French speech, switching once, with the candidate set narrowed", () => {
    const det = new AcousticLanguageDetector(bundledModel(), { candidates: ["es-ES", "fr-FR"] });
    const tags = run(det, concat(repeat(speechClip("speech-es"), 3), repeat(speechClip("speech-fr"), 5)));
    const firm = tags.filter((t) => !t.startsWith("~"));
    expect(firm[0]).toBe("es-ES");
    expect(firm[firm.length - 1]).toBe("fr-FR");
    // No flapping: exactly one change between the two committed languages.
    const changes = firm.filter((t, i) => i > 0 && t !== firm[i - 1]).length;
    expect(changes).toBe(1);
  });

  it("answers with the call's spelling of a candidate and never outside the set", () => {
    const det = new AcousticLanguageDetector(bundledModel(), { candidates: ["es-MX", "en-US"] });
    run(det, repeat(speechClip("speech-es"), 3));
    const c = det.current();
    expect(["es-MX", "en-US", "und"]).toContain(c.language);
    expect([...det.posteriors().keys()].sort()).toEqual(["en-US", "es-ES", "other"]);
  });
});
