// Evaluates a model on a `lid.py train` run's held-out speakers through the product's own code path
// (src/detect: front end, streaming pooler, the detector with its VAD and hysteresis). Trials chain one
// speaker's test clips to >= 8 s, as eval.ts does for real speech. Writes one JSON file (lid.py reports it).
// usage: npx tsx tools/lid/evaluate.ts --corpus RUN_DIR --model weights.json --out eval.json
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AcousticLanguageDetector } from "../../src/detect/detector.js";
import { LanguageModel, type ModelJson } from "../../src/detect/model.js";
import { HORIZONS, posteriorsAt } from "./horizons.js";
import { decodeMulaw } from "./mulaw.js";
import { concat } from "./pcm.js";

const arg = (name: string): string => {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`evaluate.ts: ${name} is required`);
  return v;
};
const corpus = arg("--corpus");
const model = new LanguageModel(JSON.parse(readFileSync(arg("--model"), "utf8")) as ModelJson);
const outPath = arg("--out");
const labels = model.labels;

interface Clip {
  path: string;
  label: string;
  split: string;
  voice: string;
  seconds: number;
}
interface Trial {
  label: string;
  voice: string;
  pcm: Int16Array;
}

const clips = readFileSync(join(corpus, "manifest.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l)
  .map((l) => JSON.parse(l) as Clip)
  .filter((c) => c.split === "test" || c.split === "unknown");

/** A speaker's clips chained to >= 8 s per trial; a speaker's shorter remainder is its own last trial. */
function trials(): Trial[] {
  const byVoice = new Map<string, Clip[]>();
  for (const c of clips) byVoice.set(c.voice, [...(byVoice.get(c.voice) ?? []), c]);
  const out: Trial[] = [];
  for (const [voice, cs] of byVoice) {
    let group: Clip[] = [];
    let secs = 0;
    const flush = (): void => {
      const first = group[0];
      if (!first) return;
      const pcm = concat(...group.map((c) => decodeMulaw(readFileSync(join(corpus, c.path)))));
      out.push({ label: first.label, voice, pcm });
      group = [];
      secs = 0;
    };
    for (const c of cs) {
      group.push(c);
      secs += c.seconds;
      if (secs >= 8) flush();
    }
    if (secs >= 2) flush();
  }
  return out;
}

const argmax = (p: Float64Array): number => p.reduce((b, v, i, a) => (v > (a[b] as number) ? i : b), 0);

/** The full detector, 20 ms chunks as a call delivers them: when it first commits, and to what. */
function firstCommit(pcm: Int16Array): { language: string; speech: number; audio: number } | null {
  const det = new AcousticLanguageDetector(model);
  for (let i = 0; i < pcm.length; i += 160) {
    det.push(pcm.subarray(i, i + 160));
    const c = det.current();
    if (!c.provisional) return { language: c.language, speech: det.speechSeconds, audio: (i + 160) / 8000 };
  }
  return null;
}

const median = (a: number[]): number | null =>
  a.length ? Number(([...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number).toFixed(2)) : null;
const ours = (language: string): boolean => labels.some((l) => l !== "other" && l === language);

const ts = trials();
const started = performance.now();
const acc: Record<string, { trials: number; n: Record<string, number>; ok: Record<string, number> }> = {};
const perSpeaker: Record<string, { label: string; n: number; ok: number }> = {};
const confusion: Record<string, Record<string, number>> = {};
const det: Record<
  string,
  { trials: number; committed: number; right: number; ours: number; speech: number[]; audio: number[] }
> = {};
ts.forEach((t, k) => {
  const ps = posteriorsAt(model, t.pcm);
  for (const key of [t.label, ...(t.label === "und" ? [] : ["all ours"])]) {
    const a = acc[key] ?? { trials: 0, n: {}, ok: {} };
    a.trials++;
    ps.forEach((p, i) => {
      if (!p) return;
      const h = String(HORIZONS[i]);
      const pred = labels[argmax(p)] as string;
      const ok = pred === t.label || (t.label === "und" && pred === "other");
      a.n[h] = (a.n[h] ?? 0) + 1;
      if (ok) a.ok[h] = (a.ok[h] ?? 0) + 1;
      if (h === "3" && key === t.label) {
        const s = perSpeaker[t.voice] ?? { label: t.label, n: 0, ok: 0 };
        s.n++;
        if (ok) s.ok++;
        perSpeaker[t.voice] = s;
        const row = confusion[t.label] ?? {};
        row[pred] = (row[pred] ?? 0) + 1;
        confusion[t.label] = row;
      }
    });
    acc[key] = a;
  }
  const d = det[t.label] ?? { trials: 0, committed: 0, right: 0, ours: 0, speech: [], audio: [] };
  d.trials++;
  const c = firstCommit(t.pcm);
  if (c) {
    d.committed++;
    if (c.language === t.label) d.right++;
    if (ours(c.language)) d.ours++;
    d.speech.push(c.speech);
    d.audio.push(c.audio);
  }
  det[t.label] = d;
  if ((k + 1) % Math.max(1, Math.floor(ts.length / 10)) === 0)
    console.error(
      `evaluate ${k + 1}/${ts.length} trials, ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
});

const result = {
  model: { labels, stride: model.stride },
  trials: ts.length,
  accuracy: Object.fromEntries(
    Object.entries(acc)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, a]) => [
        k,
        {
          trials: a.trials,
          at: Object.fromEntries(
            HORIZONS.map((h) => [h, a.n[h] ? (a.ok[h] ?? 0) / (a.n[h] as number) : null]),
          ),
          n: a.n,
        },
      ]),
  ),
  perSpeaker3s: Object.fromEntries(
    Object.entries(perSpeaker)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, s]) => [k, { label: s.label, trials: s.n, accuracy: s.ok / s.n }]),
  ),
  confusion3s: confusion,
  detector: Object.fromEntries(
    Object.entries(det)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, d]) => [
        k,
        {
          trials: d.trials,
          committed: d.committed / d.trials,
          rightWhenCommitted: d.committed ? d.right / d.committed : null,
          /** Unknown-language trials: the share tagged as one of the model's languages (should be none). */
          taggedOurs: d.ours / d.trials,
          medianSpeechSeconds: median(d.speech),
          medianAudioSeconds: median(d.audio),
        },
      ]),
  ),
};
writeFileSync(outPath, JSON.stringify(result, null, 1));
console.error(`evaluate: ${ts.length} trials -> ${outPath}`);
