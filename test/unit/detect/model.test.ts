import { describe, expect, it } from "vitest";
import weights from "../../../src/detect/model/weights.json";
import {
  LanguageModel,
  ModelFormatError,
  type ModelJson,
  StreamingPooler,
  softmax,
} from "../../../src/detect/model.js";
import fixture from "./model-fixture.json";

describe("LanguageModel", () => {
  const model = new LanguageModel(weights as ModelJson);

  it("loads the shipped weights (labels, size)", () => {
    expect(model.labels).toContain("es-ES");
    expect(model.labels).toContain("other");
    expect(JSON.stringify(weights).length).toBeLessThan(500 * 1024);
  });

  it("reproduces the numpy reference outputs to 1e-4 on fixed inputs", () => {
    const pooler = new StreamingPooler(model, 1000);
    for (const row of fixture.frames) pooler.push(Float64Array.from(row));
    const logits = pooler.logitsNow();
    expect(logits).not.toBeNull();
    const l = logits as Float64Array;
    fixture.logits.forEach((v, i) => {
      expect(Math.abs((l[i] as number) - v)).toBeLessThan(1e-4);
    });
    const p = softmax(l);
    fixture.posteriors.forEach((v, i) => {
      expect(Math.abs((p[i] as number) - v)).toBeLessThan(1e-4);
    });
  });

  it("declares the front end's normalisation it was trained on, and refuses one it does not know", () => {
    expect(["cmn", "cmvn"]).toContain(model.normalization);
    const legacy = { ...(weights as ModelJson) };
    delete legacy.normalization;
    expect(new LanguageModel(legacy).normalization).toBe("cmn");
    expect(() => new LanguageModel({ ...(weights as ModelJson), normalization: "pcen" as "cmn" })).toThrow(
      ModelFormatError,
    );
  });

  it("forgets speech older than its window", () => {
    const a = new StreamingPooler(model, 5);
    const b = new StreamingPooler(model, 5);
    const rows = fixture.frames.map((r) => Float64Array.from(r));
    for (const r of [...rows].reverse()) a.push(r); // different history...
    for (const r of rows) a.push(r); // ...then the same last frames
    for (const r of rows) b.push(r);
    const la = a.logitsNow() ?? new Float64Array();
    const lb = b.logitsNow() ?? new Float64Array();
    expect(la.length).toBe(model.labels.length);
    la.forEach((v, i) => {
      expect(v).toBeCloseTo(lb[i] as number, 9);
    });
  });
});
