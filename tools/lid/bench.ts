// CPU per audio second per channel for the acoustic detector (VAD + features + model + decision), on the
// committed speech fixtures looped to a minute with pauses. No corpus needed.
// usage: npx tsx tools/lid/bench.ts [out.json]
import { readFileSync, writeFileSync } from "node:fs";
import { createAcousticDetector, FrontEnd } from "../../src/detect/index.js";
import { decodeMulaw } from "./mulaw.js";

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
const pcm = new Int16Array(len);
let o = 0;
for (const p of parts) {
  pcm.set(p, o);
  o += p.length;
}
const seconds = pcm.length / 8000;

function measure(make: () => { push(x: Int16Array): void }, chunk: number): number {
  make().push(pcm); // warm the JIT
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const d = make();
    const t = process.cpuUsage();
    for (let i = 0; i < pcm.length; i += chunk) d.push(pcm.subarray(i, i + chunk));
    const u = process.cpuUsage(t);
    runs.push((u.user + u.system) / 1000 / seconds);
  }
  return runs.sort((a, b) => a - b)[2] as number; // median
}

const result = {
  audioSeconds: seconds,
  chunkSamples: 160,
  detectorMsPerAudioSecond: measure(() => createAcousticDetector(), 160),
  frontEndMsPerAudioSecond: measure(() => new FrontEnd(() => {}), 160),
  node: process.version,
};
console.log(JSON.stringify(result, null, 1));
if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify(result, null, 1));
