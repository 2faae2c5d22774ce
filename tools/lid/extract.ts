// Runs the product's own front end (src/detect: log-mel, VAD, streaming CMN) over every corpus clip, so
// the model trains on exactly the features it will see in the Worker. Writes, under DIR/features/:
//   feats.f32  the CMN-normalised log-mel of every active (speech) frame, clip after clip, MEL_BANDS each
//   frames.i32 the frame index (10 ms units since clip start) of each of those rows
//   index.json one entry per clip: manifest fields + row offset/count, total frames, VAD speech frames
// usage: nice -n 15 npx tsx tools/lid/extract.ts [~/.cache/langhook/lid/corpus]
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { MEL_BANDS } from "../../src/detect/features.js";
import { FrontEnd } from "../../src/detect/frontend.js";
import { cacheDir } from "./cache.js";
import { decodeMulaw } from "./mulaw.js";

const dir = process.argv[2] ?? cacheDir("corpus");
const out = join(dir, "features");
const manifest = readFileSync(join(dir, "manifest.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l) as Record<string, unknown> & { path: string });

mkdirSync(out, { recursive: true });
const featsFd = openSync(join(out, "feats.f32"), "w");
const framesFd = openSync(join(out, "frames.i32"), "w");
const index: Record<string, unknown>[] = [];
let rows = 0;
const t0 = performance.now();
let audioSeconds = 0;
for (const clip of manifest) {
  const pcm = decodeMulaw(readFileSync(join(dir, clip.path)));
  audioSeconds += pcm.length / 8000;
  const feats: number[] = [];
  const frames: number[] = [];
  let total = 0;
  let speech = 0;
  const fe = new FrontEnd((f) => {
    total++;
    if (f.vad.speech) speech++;
    if (f.normalized) {
      for (let i = 0; i < MEL_BANDS; i++) feats.push(f.normalized[i] as number);
      frames.push(f.index);
    }
  });
  fe.push(pcm);
  writeSync(featsFd, new Uint8Array(new Float32Array(feats).buffer));
  writeSync(framesFd, new Uint8Array(new Int32Array(frames).buffer));
  index.push({ ...clip, row: rows, rows: frames.length, frames: total, speechFrames: speech });
  rows += frames.length;
  // A line on stderr every 5 % of the clips: a large corpus takes minutes here.
  const step = Math.max(1, Math.floor(manifest.length / 20));
  if (index.length % step === 0 && index.length < manifest.length) {
    const s = (performance.now() - t0) / 1000;
    const eta = (s / index.length) * (manifest.length - index.length);
    console.error(
      `extract ${index.length}/${manifest.length} clips, ${(audioSeconds / 3600).toFixed(2)} h audio, ${s.toFixed(0)} s, ~${eta.toFixed(0)} s left`,
    );
  }
}
closeSync(featsFd);
closeSync(framesFd);
writeFileSync(join(out, "index.json"), JSON.stringify({ dim: MEL_BANDS, rows, clips: index }));
const ms = performance.now() - t0;
console.log(
  `${index.length} clips, ${rows} active frames, ${audioSeconds.toFixed(0)} s audio, ${(ms / 1000).toFixed(1)} s CPU (${(ms / audioSeconds).toFixed(3)} ms per audio second)`,
);
