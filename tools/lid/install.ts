// `npm run lid:install -- MODEL_DIR`: puts a model that `lid:train` wrote in place of the shipped one.
// 1. loads MODEL_DIR/weights.json with the product's loader (format, shapes, labels, normalisation);
// 2. replays MODEL_DIR/fixture.json (numpy's outputs for fixed inputs, written by the trainer) through the
//    TypeScript inference and refuses the model unless logits and posteriors agree to 1e-4;
// 3. copies weights.json and the fixture to src/detect/model/weights.json and
//    test/unit/detect/model-fixture.json (the parity test then checks the new pair), formats them with biome;
// 4. prints the Worker bundle size (`wrangler deploy --dry-run`) before and after.
// Options: --weights PATH --fixture PATH install elsewhere (tests); --no-bundle skips step 4.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { MEL_BANDS } from "../../src/detect/features.js";
import { LanguageModel, type ModelJson, StreamingPooler, softmax } from "../../src/detect/model.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const argv = process.argv.slice(2);
const option = (name: string, def: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? (argv[i + 1] ?? def) : def;
};
const modelDir = argv.find((a, i) => !a.startsWith("--") && !argv[i - 1]?.match(/^--(weights|fixture)$/));
if (!modelDir) {
  console.error("usage: npm run lid:install -- MODEL_DIR [--weights PATH --fixture PATH] [--no-bundle]");
  process.exit(2);
}
const weightsTarget = resolve(option("--weights", join(root, "src/detect/model/weights.json")));
const fixtureTarget = resolve(option("--fixture", join(root, "test/unit/detect/model-fixture.json")));
const shippedPlace = weightsTarget === join(root, "src/detect/model/weights.json");
const TOLERANCE = 1e-4;
const MAX_BYTES = 500 * 1024; // test/unit/detect/model.test.ts holds the shipped weights to this

function fail(why: string): never {
  console.error(`lid:install: refused ${modelDir}: ${why}`);
  process.exit(1);
}

const weightsPath = join(modelDir, "weights.json");
const fixturePath = join(modelDir, "fixture.json");
let json: ModelJson;
let fixture: { frames: number[][]; logits: number[]; posteriors: number[] };
try {
  json = JSON.parse(readFileSync(weightsPath, "utf8")) as ModelJson;
  fixture = JSON.parse(readFileSync(fixturePath, "utf8"));
} catch (e) {
  fail(`cannot read weights.json and fixture.json (${(e as Error).message})`);
}
let model: LanguageModel;
try {
  model = new LanguageModel(json);
} catch (e) {
  fail((e as Error).message);
}
if (!model.labels.includes("other")) fail("no `other` label: the detector needs it to refuse");
if (json.dim !== MEL_BANDS) fail(`dim ${json.dim}, but the front end computes ${MEL_BANDS} bands`);
const bytes = statSync(weightsPath).size;
if (bytes > MAX_BYTES) fail(`${bytes} bytes of weights, over the ${MAX_BYTES} the Worker bundle allows`);

// Parity: the trainer's numpy outputs for fixed frames, reproduced by the TypeScript inference.
const pooler = new StreamingPooler(model, 1000);
for (const row of fixture.frames) pooler.push(Float64Array.from(row));
const logits = pooler.logitsNow();
if (!logits || logits.length !== fixture.logits.length)
  fail("the fixture's frames give no logits of the right size");
const posteriors = softmax(logits);
let worst = 0;
fixture.logits.forEach((v, i) => {
  worst = Math.max(worst, Math.abs((logits[i] as number) - v));
});
fixture.posteriors.forEach((v, i) => {
  worst = Math.max(worst, Math.abs((posteriors[i] as number) - v));
});
if (!(worst < TOLERANCE))
  fail(`TypeScript inference differs from the trainer's by ${worst} (limit ${TOLERANCE})`);
console.log(
  `lid:install: ${model.labels.join(", ")}; ${bytes} bytes; TypeScript reproduces the trainer to ${worst.toExponential(1)}`,
);

/** Bytes of the bundle wrangler would upload (and gzipped), or null where the dry run fails. */
function bundleSize(): { bytes: number; gzip: number } | null {
  const out = mkdtempSync(join(tmpdir(), "lid-bundle-"));
  try {
    execFileSync(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
      cwd: root,
      stdio: "ignore",
    });
    let raw = 0;
    let gz = 0;
    for (const f of readdirSync(out, { recursive: true }) as string[]) {
      const p = join(out, f);
      if (!statSync(p).isFile() || f.endsWith(".map")) continue;
      const b = readFileSync(p);
      raw += b.length;
      gz += gzipSync(b).length;
    }
    return { bytes: raw, gzip: gz };
  } catch {
    return null;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const bundle = shippedPlace && !argv.includes("--no-bundle");
const before = bundle ? bundleSize() : null;
copyFileSync(weightsPath, weightsTarget);
copyFileSync(fixturePath, fixtureTarget);
if (shippedPlace) {
  // The repository's formatter owns JSON layout (`npm run lint` checks it).
  execFileSync(join(root, "node_modules/.bin/biome"), ["format", "--write", weightsTarget, fixtureTarget], {
    cwd: root,
    stdio: "ignore",
  });
}
console.log(`lid:install: installed ${weightsTarget} and ${fixtureTarget}`);
if (bundle) {
  const after = bundleSize();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  if (after)
    console.log(
      `lid:install: Worker bundle ${kb(after.bytes)} (${kb(after.gzip)} gzipped)` +
        (before ? `, was ${kb(before.bytes)} (${kb(before.gzip)} gzipped)` : ""),
    );
  else console.log("lid:install: `wrangler deploy --dry-run` failed; bundle size not measured");
}
