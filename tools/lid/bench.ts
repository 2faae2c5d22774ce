// CPU per audio second per channel for the acoustic detector (VAD + features + model + decision), on the
// committed speech fixtures looped to a minute with pauses; and the transcript-text identifier's cost per
// transcript and per isolate (decoding its model). No corpus needed.
// usage: npx tsx tools/lid/bench.ts [out.json]
import { readFileSync, writeFileSync } from "node:fs";
import {
  createAcousticDetector,
  FrontEnd,
  type NgramModelJson,
  NgramTextIdentifier,
} from "../../src/detect/index.js";
import textModel from "../../src/detect/model/text-ngrams.json";
import { decodeMulaw } from "./mulaw.js";
import { concat } from "./pcm.js";

const clip = (n: string) =>
  decodeMulaw(readFileSync(new URL(`../../test/unit/detect/fixtures/${n}.ul`, import.meta.url)));
const parts: Int16Array[] = [];
let len = 0;
while (len < 8000 * 60) {
  for (const p of [clip("speech-es"), new Int16Array(2400), clip("speech-fr"), new Int16Array(2400)]) {
    parts.push(p);
    len += p.length;
  }
}
const mixed = concat(...parts);
// One language for a minute: the detector commits early and then runs thinned (what most calls are).
const spanish = concat(
  ...Array.from({ length: Math.ceil((8000 * 60) / (clip("speech-es").length + 2400)) }, () => [
    clip("speech-es"),
    new Int16Array(2400),
  ]).flat(),
);
const seconds = mixed.length / 8000;
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function measure(make: () => { push(x: Int16Array): void }, chunk: number, pcm = mixed): number {
  const seconds = pcm.length / 8000;
  make().push(pcm); // warm the JIT
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const d = make();
    const t = process.cpuUsage();
    for (let i = 0; i < pcm.length; i += chunk) d.push(pcm.subarray(i, i + chunk));
    const u = process.cpuUsage(t);
    runs.push((u.user + u.system) / 1000 / seconds);
  }
  return median(runs);
}

/** CPU µs per transcript (a dozen words) and ms to decode the model once, medians of 5. */
function measureText(): { textMicrosPerTranscript: number; textModelDecodeMs: number } {
  const sentences = [
    "I would like to change the address on my account please",
    "quisiera cambiar la dirección de mi cuenta por favor",
    "je voudrais changer l'adresse de mon compte s'il vous plaît",
    "ich möchte bitte die Adresse meines Kontos ändern",
    "vorrei cambiare l'indirizzo del mio conto per favore",
    "eu gostaria de mudar o endereço da minha conta por favor",
    "ik wil graag het adres van mijn rekening wijzigen",
  ];
  const decode: number[] = [];
  const per: number[] = [];
  for (let r = 0; r < 5; r++) {
    let t = process.cpuUsage();
    const id = new NgramTextIdentifier(textModel as NgramModelJson);
    let u = process.cpuUsage(t);
    decode.push((u.user + u.system) / 1000);
    const n = 2000;
    t = process.cpuUsage();
    for (let i = 0; i < n; i++) id.identify(sentences[i % sentences.length] as string);
    u = process.cpuUsage(t);
    per.push((u.user + u.system) / n);
  }
  return { textMicrosPerTranscript: median(per), textModelDecodeMs: median(decode) };
}

const result = {
  audioSeconds: seconds,
  chunkSamples: 160,
  detectorMsPerAudioSecond: measure(() => createAcousticDetector(), 160),
  // A settled call: committed after a few seconds, then thinned; beside the same detector never thinned.
  detectorSettledMsPerAudioSecond: measure(() => createAcousticDetector(), 160, spanish),
  detectorSettledUnthinnedMsPerAudioSecond: measure(
    () => createAcousticDetector({ committedThinning: 1 }),
    160,
    spanish,
  ),
  frontEndMsPerAudioSecond: measure(() => new FrontEnd(() => {}), 160),
  ...measureText(),
  node: process.version,
};
console.log(JSON.stringify(result, null, 1));
if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify(result, null, 1));
