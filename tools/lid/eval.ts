// Evaluates the acoustic detector through the product's own code path (src/detect) on the held-out corpus
// splits, the fused decision on scripted transcripts, and CPU per audio second. Writes JSON + Markdown.
// usage: nice -n 15 npx tsx tools/lid/eval.ts [--corpus ~/.cache/langhook/lid/corpus] [--model src/detect/model/weights.json]
//                                               [--out tools/lid/results]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LanguageDecision } from "../../src/detect/decision.js";
import { AcousticLanguageDetector } from "../../src/detect/detector.js";
import { FrontEnd } from "../../src/detect/frontend.js";
import textModelJson from "../../src/detect/model/text-ngrams.json";
import { LanguageModel, type ModelJson } from "../../src/detect/model.js";
import {
  type NgramModelJson,
  NgramTextIdentifier,
  type TextLanguageIdentifier,
} from "../../src/detect/text.js";
import { cacheDir } from "./cache.js";
import { HORIZONS, posteriorsAt } from "./horizons.js";
import { decodeMulaw } from "./mulaw.js";
import { concat } from "./pcm.js";
import { TinyldTextIdentifier } from "./tinyld-baseline.js";

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const corpus = arg("--corpus", cacheDir("corpus"));
const modelPath = arg("--model", "src/detect/model/weights.json");
const outDir = arg("--out", "tools/lid/results");
const tag = arg("--tag", "release");
const modelJson = JSON.parse(readFileSync(modelPath, "utf8")) as ModelJson;
const model = new LanguageModel(modelJson);
const labels = model.labels;
const targets = labels.filter((l) => l !== "other");
/** The shipped transcript-text identifier, and the library it replaced (as the baseline). */
const textIdentifiers: Record<string, TextLanguageIdentifier> = {
  ngram: new NgramTextIdentifier(textModelJson as NgramModelJson),
  "tinyld-light": new TinyldTextIdentifier(),
};

interface Clip {
  id: string;
  path: string;
  label: string;
  split: string;
  voice: string;
  source: string;
  sentences: string[];
  seconds: number;
  /** espeak-ng variant (m3, klatt, Annie...) or, for real speech, the speaker. */
  variant: string;
}
const clips = readFileSync(join(corpus, "manifest.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l)
  .map((l) => JSON.parse(l) as Clip);
const audio = (c: Clip): Int16Array => decodeMulaw(readFileSync(join(corpus, c.path)));

/** Trials: single clips for synthetic splits; chains of one speaker's prompts (>= 8 s) for real speech. */
function trials(split: string): { label: string; voice: string; pcm: Int16Array; clips: Clip[] }[] {
  const sel = clips.filter((c) => c.split === split);
  if (!split.startsWith("human"))
    return sel.map((c) => ({ label: c.label, voice: c.voice, pcm: audio(c), clips: [c] }));
  const byVoice = new Map<string, Clip[]>();
  for (const c of sel) byVoice.set(c.voice, [...(byVoice.get(c.voice) ?? []), c]);
  const out: { label: string; voice: string; pcm: Int16Array; clips: Clip[] }[] = [];
  for (const [voice, cs] of byVoice) {
    let group: Clip[] = [];
    let secs = 0;
    for (const c of cs) {
      group.push(c);
      secs += c.seconds;
      if (secs >= 8) {
        out.push({ label: c.label, voice, pcm: concat(...group.map(audio)), clips: group });
        group = [];
        secs = 0;
      }
    }
  }
  return out;
}

const started = performance.now();
/** A line on stderr per stage: the whole run takes minutes, and stdout carries the Markdown table. */
const progress = (what: string): void =>
  console.error(`eval:lid ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s  ${what}`);

const argmax = (p: Float64Array): number => p.reduce((b, v, i, a) => (v > (a[b] as number) ? i : b), 0);
type Confusion = Record<string, Record<string, number>>;

type Tally = Record<string, { n: number; correct: number }>;

function tally(t: Tally, key: string, ok: boolean): void {
  const e = t[key] ?? { n: 0, correct: 0 };
  e.n++;
  if (ok) e.correct++;
  t[key] = e;
}

const withAccuracy = (t: Tally) =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { ...v, accuracy: v.correct / v.n }]));

function evalSplit(split: string) {
  progress(`accuracy by duration: ${split}`);
  const ts = trials(split);
  const res = HORIZONS.map((h) => ({
    seconds: h,
    n: 0,
    correct: 0,
    perLanguage: {} as Tally,
    perVariant: {} as Tally,
    confusion: {} as Confusion,
  }));
  for (const t of ts) {
    const ps = posteriorsAt(model, t.pcm);
    ps.forEach((p, i) => {
      if (!p) return;
      const r = res[i] as (typeof res)[number];
      const pred = labels[argmax(p)] as string;
      const truth = t.label;
      r.n++;
      const ok = pred === truth || (truth === "und" && pred === "other");
      if (ok) r.correct++;
      tally(r.perLanguage, truth, ok);
      tally(r.perVariant, t.clips[0]?.variant ?? t.voice, ok);
      const row = r.confusion[truth] ?? {};
      row[pred] = (row[pred] ?? 0) + 1;
      r.confusion[truth] = row;
    });
  }
  return {
    split,
    trials: ts.length,
    voices: new Set(ts.map((t) => t.voice)).size,
    horizons: res.map((r) => ({
      ...r,
      accuracy: r.n ? r.correct / r.n : null,
      perLanguage: withAccuracy(r.perLanguage),
      perVariant: withAccuracy(r.perVariant),
    })),
  };
}

/** Runs the full detector (VAD, hysteresis) and reports when it first commits and whether it is right. */
function timeToDecision(split: string, commitConfidence?: number) {
  progress(`time to decision: ${split}${commitConfidence ? ` (commit at ${commitConfidence})` : ""}`);
  const ts = trials(split);
  let committed = 0;
  let correct = 0;
  let falseAccepts = 0;
  const speechSecs: number[] = [];
  const audioSecs: number[] = [];
  for (const t of ts) {
    const det = new AcousticLanguageDetector(model, commitConfidence ? { commitConfidence } : {});
    let done = false;
    for (let i = 0; i < t.pcm.length && !done; i += 160) {
      det.push(t.pcm.subarray(i, i + 160));
      const c = det.current();
      if (!c.provisional) {
        done = true;
        committed++;
        if (c.language === t.label) correct++;
        if (t.label === "und" && c.language !== "und") falseAccepts++;
        speechSecs.push(det.speechSeconds);
        audioSecs.push((i + 160) / 8000);
      }
    }
  }
  const median = (a: number[]) =>
    a.length ? ([...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number) : null;
  return {
    split,
    commitConfidence: commitConfidence ?? "default",
    trials: ts.length,
    committedShare: ts.length ? committed / ts.length : 0,
    /** For unknown-language trials: share that the detector tagged with one of its languages. */
    falseAcceptShare: ts.length ? falseAccepts / ts.length : 0,
    correctWhenCommitted: committed ? correct / committed : null,
    medianSpeechSecondsToCommit: median(speechSecs),
    medianAudioSecondsToCommit: median(audioSecs),
  };
}

/**
 * Scripted fusion: each trial's real sentence text arrives as a transcript part-way through its clip.
 * For our languages, the share of chunks tagged right; for the others (`other_test`, `unknown_test`), the
 * share tagged as one of ours, which should be none.
 */
function fusion(split: string, textName = "ngram", configured: "none" | "right" | "wrong" = "none") {
  progress(`fusion: ${split}, ${textName} text, configured language ${configured}`);
  const text = textIdentifiers[textName] as TextLanguageIdentifier;
  const sentenceText = loadSentenceText();
  let chunks = 0;
  let right = 0;
  let chunksAfterText = 0;
  let rightAfterText = 0;
  let textTotal = 0;
  let textCorrect = 0;
  for (const t of trials(split)) {
    const ours = targets.includes(t.label);
    // A configured language as Genesys's `open` may give it: the right one, or the next of ours (wrong).
    const wrong = targets[(targets.indexOf(t.label) + 1) % targets.length] as string;
    const decision = new LanguageDecision(
      configured === "none" || !ours ? null : configured === "right" ? t.label : wrong,
    );
    const det = new AcousticLanguageDetector(model, { candidates: targets });
    let haveText = false;
    for (const c of t.clips) {
      const pcm = audio(c);
      // The engine returns each sentence's transcript part-way through the clip: sentence j of k arrives
      // after (j+1)/(k+1) of its audio, the way streaming results trail the speech.
      const texts = c.sentences.map((k) => sentenceText(ours ? t.label : c.voice, k));
      const due = texts.map((_, j) => Math.floor((pcm.length * (j + 1)) / (texts.length + 1)));
      let next = 0;
      for (let i = 0; i < pcm.length; i += 160) {
        det.push(pcm.subarray(i, i + 160));
        while (next < texts.length && i >= (due[next] as number)) {
          const s = texts[next++];
          if (!s) continue;
          haveText = true; // counted from the first transcript that arrives, whatever it says
          const tl = text.identify(s, targets);
          textTotal++;
          if (ours ? tl?.language === t.label : !tl || !targets.includes(tl.language)) textCorrect++;
          if (tl) decision.update({ kind: "text", ...tl });
        }
        const d = decision.update({ kind: "acoustic", estimate: det.current() }).decision;
        const ok = ours ? d.language === t.label : !targets.includes(d.language);
        chunks++;
        if (ok) right++;
        if (haveText) {
          chunksAfterText++;
          if (ok) rightAfterText++;
        }
      }
    }
  }
  return {
    split,
    text: textName,
    configured,
    chunkAccuracy: chunks ? right / chunks : null,
    chunkAccuracyAfterFirstTranscript: chunksAfterText ? rightAfterText / chunksAfterText : null,
    /** The text identifier alone on the trials' sentences, restricted to the 7 languages. */
    textSentences: textTotal,
    textAccuracy: textTotal ? textCorrect / textTotal : null,
    chunks,
  };
}

/**
 * Text identifiers alone (no audio), with the 7 languages as candidates: held-out gettext sentences (the
 * sentence split of the corpus, in each language, plus 15 `other` languages and Russian to be refused)
 * and fortune cookies, a genre no identifier here was trained on. Written by text_train.py.
 */
function textOnly() {
  progress("text identifiers alone");
  let sets: Record<string, Record<string, string[]>>;
  try {
    sets = JSON.parse(readFileSync(join(corpus, "text-eval.json"), "utf8"));
  } catch {
    return [];
  }
  const out = [];
  for (const [name, identifier] of Object.entries(textIdentifiers)) {
    for (const [set, byLabel] of Object.entries(sets)) {
      const perLanguage: Record<string, { n: number; accuracy: number }> = {};
      let n = 0;
      let ok = 0;
      for (const [label, sentences] of Object.entries(byLabel)) {
        // Ours must be named; anything else (other, und) must be refused (null) rather than named.
        const ours = targets.includes(label);
        let right = 0;
        for (const s of sentences) {
          const r = identifier.identify(s, targets);
          if (ours ? r?.language.split("-")[0] === label.split("-")[0] : !r || !targets.includes(r.language))
            right++;
        }
        perLanguage[label] = {
          n: sentences.length,
          accuracy: sentences.length ? right / sentences.length : 0,
        };
        if (ours) {
          n += sentences.length;
          ok += right;
        }
      }
      out.push({ identifier: name, set, sentences: n, accuracy: n ? ok / n : null, perLanguage });
    }
  }
  return out;
}

/** Sentence text by label (our languages) or espeak-ng voice ("pl+Alicia": other and unknown languages). */
function loadSentenceText(): (labelOrVoice: string, key: string) => string | undefined {
  const load = (file: string): Record<string, Record<string, string>> => {
    try {
      return JSON.parse(readFileSync(join(corpus, file), "utf8"));
    } catch {
      return {};
    }
  };
  const ours = load("sentences.json");
  const foreign = load("sentences-foreign.json"); // written by text_train.py
  return (labelOrVoice, key) =>
    ours[labelOrVoice]?.[key] ?? foreign[labelOrVoice.split("+")[0] as string]?.[key];
}

function bench() {
  progress("CPU per audio second");
  const det = new AcousticLanguageDetector(model);
  const pcm = concat(
    ...clips
      .filter((c) => c.split === "test")
      .slice(0, 40)
      .map(audio),
  );
  // Warm up the JIT, then measure.
  new AcousticLanguageDetector(model).push(pcm.subarray(0, 8000 * 10));
  const t0 = process.cpuUsage();
  for (let i = 0; i < pcm.length; i += 160) det.push(pcm.subarray(i, i + 160));
  const u = process.cpuUsage(t0);
  const seconds = pcm.length / 8000;
  const fe = new FrontEnd(() => {}, {}, model.normalization);
  const t1 = process.cpuUsage();
  for (let i = 0; i < pcm.length; i += 160) fe.push(pcm.subarray(i, i + 160));
  const u1 = process.cpuUsage(t1);
  return {
    audioSeconds: seconds,
    speechSeconds: det.speechSeconds,
    msCpuPerAudioSecond: (u.user + u.system) / 1000 / seconds,
    frontEndMsCpuPerAudioSecond: (u1.user + u1.system) / 1000 / seconds,
    node: process.version,
  };
}

const splits = ["test", "heldout_synth", "human_seen", "human_test", "other_test"];
const results = {
  model: modelPath,
  tag,
  weightsBytes: readFileSync(modelPath).length,
  accuracy: splits.map(evalSplit),
  unknown: ["unknown_test", "human_unknown"].map(evalSplit),
  timeToDecision: ["test", "heldout_synth", "human_test", "unknown_test", "human_unknown"].map((s) =>
    timeToDecision(s),
  ),
  /** What raising the commit threshold trades: fewer commitments against fewer unknown-language tags. */
  threshold: [0.75, 0.85, 0.9, 0.95].map((th) => ({
    commitConfidence: th,
    splits: ["test", "human_test", "unknown_test", "human_unknown"].map((sp) => timeToDecision(sp, th)),
  })),
  fusion: [
    fusion("test"),
    fusion("test", "ngram", "right"),
    fusion("test", "ngram", "wrong"),
    fusion("test", "tinyld-light"),
    fusion("human_test"),
    fusion("other_test"),
    fusion("unknown_test"),
  ],
  text: textOnly(),
  bench: bench(),
};
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `eval-${tag}.json`), JSON.stringify(results, null, 1));

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? "-" : `${(100 * x).toFixed(1)} %`;
const md: string[] = [
  `# Language ID evaluation (${tag})`,
  "",
  `Model: \`${modelPath}\` (${results.weightsBytes} bytes)`,
  "",
];
md.push("| split | trials | voices | 1 s | 2 s | 3 s | 5 s |", "|---|---|---|---|---|---|---|");
for (const s of [...results.accuracy, ...results.unknown]) {
  md.push(
    `| ${s.split} | ${s.trials} | ${s.voices} | ${s.horizons.map((h) => `${pct(h.accuracy)} (${h.n})`).join(" | ")} |`,
  );
}
md.push(
  "",
  "Per language at 3 s:",
  "",
  `| split | ${[...targets, "und"].join(" | ")} |`,
  `|---|${[...targets, "und"].map(() => "---").join("|")}|`,
);
for (const s of [...results.accuracy, ...results.unknown]) {
  const h = s.horizons[2];
  md.push(`| ${s.split} | ${[...targets, "und"].map((l) => pct(h?.perLanguage[l]?.accuracy)).join(" | ")} |`);
}
for (const s of results.accuracy.filter((x) => ["test", "human_test"].includes(x.split))) {
  const h = s.horizons[2];
  md.push(
    "",
    `Confusion at 3 s, ${s.split} (rows truth, columns predicted):`,
    "",
    `| | ${labels.join(" | ")} |`,
    `|---|${labels.map(() => "---").join("|")}|`,
  );
  for (const [truth, row] of Object.entries(h?.confusion ?? {}))
    md.push(`| ${truth} | ${labels.map((l) => row[l] ?? 0).join(" | ")} |`);
}
for (const s of results.accuracy.filter((x) => ["test", "heldout_synth", "human_test"].includes(x.split))) {
  const per = Object.entries(s.horizons[2]?.perVariant ?? {}).sort(([, a], [, b]) => a.accuracy - b.accuracy);
  md.push(
    "",
    `Per voice at 3 s, ${s.split} (espeak-ng variant, or speaker), worst first: ${per
      .map(([v, x]) => `${v} ${pct(x.accuracy)} (${x.n})`)
      .join(", ")}`,
  );
}
md.push(
  "",
  "| time to first commit (full detector, default threshold) | trials | committed | correct when committed | unknown language tagged as one of ours | median speech s | median audio s |",
  "|---|---|---|---|---|---|---|",
);
for (const t of results.timeToDecision)
  md.push(
    `| ${t.split} | ${t.trials} | ${pct(t.committedShare)} | ${pct(t.correctWhenCommitted)} | ${t.split.includes("unknown") ? pct(t.falseAcceptShare) : "-"} | ${t.medianSpeechSecondsToCommit ?? "-"} | ${t.medianAudioSecondsToCommit ?? "-"} |`,
  );
md.push(
  "",
  "Commit threshold (detector `commitConfidence`): share of trials committed, correct when committed; for unknown languages, share tagged as one of ours:",
  "",
  "| threshold | test committed | test correct | human_test committed | human_test correct | unknown_test tagged | human_unknown tagged |",
  "|---|---|---|---|---|---|---|",
);
for (const t of results.threshold) {
  const [a, b, c, d] = t.splits;
  md.push(
    `| ${t.commitConfidence} | ${pct(a?.committedShare)} | ${pct(a?.correctWhenCommitted)} | ${pct(b?.committedShare)} | ${pct(b?.correctWhenCommitted)} | ${pct(c?.falseAcceptShare)} | ${pct(d?.falseAcceptShare)} |`,
  );
}
md.push(
  "",
  "Fused decision (scripted transcripts). Our languages: chunks tagged right. `other_test`, `unknown_test` (languages the call does not have): chunks *not* tagged as one of ours, and sentences the text identifier refused.",
  "",
  "| fused decision (scripted transcripts) | text identifier | configured language | chunks | all chunks | after the first transcript arrives | text LID per sentence |",
  "|---|---|---|---|---|---|---|",
);
for (const f of results.fusion)
  md.push(
    `| ${f.split} | ${f.text} | ${f.configured} | ${f.chunks} | ${pct(f.chunkAccuracy)} | ${pct(f.chunkAccuracyAfterFirstTranscript)} | ${pct(f.textAccuracy)} (${f.textSentences}) |`,
  );
const textLabels = [...targets, "other", "und"];
md.push(
  "",
  "Text identifiers alone (per sentence, the 7 languages as the call's candidates, as `SUPPORTED_LANGUAGES` sets them; `other` (15 languages) and `und` (Russian): share refused, which tinyld restricted to candidates cannot do):",
  "",
  `| identifier | set | sentences in our languages | our languages | ${textLabels.join(" | ")} |`,
  `|---|---|---|---|${textLabels.map(() => "---").join("|")}|`,
);
for (const t of results.text)
  md.push(
    `| ${t.identifier} | ${t.set} | ${t.sentences} | ${pct(t.accuracy)} | ${textLabels.map((l) => pct(t.perLanguage[l]?.accuracy)).join(" | ")} |`,
  );
md.push(
  "",
  `CPU (inside the eval run; tools/lid/results/bench.json has the clean figure): ${results.bench.msCpuPerAudioSecond.toFixed(3)} ms per audio second per channel (front end alone ${results.bench.frontEndMsCpuPerAudioSecond.toFixed(3)} ms), Node ${results.bench.node}, ${results.bench.audioSeconds.toFixed(0)} s audio.`,
);
writeFileSync(join(outDir, `eval-${tag}.md`), `${md.join("\n")}\n`);
progress(`wrote ${join(outDir, `eval-${tag}.{json,md}`)}`);
console.log(md.join("\n"));
