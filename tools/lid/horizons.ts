// The model's posteriors at fixed amounts of speech: what both evaluations (eval.ts on the release corpus,
// evaluate.ts on a user's held-out speakers) report accuracy at.
import { FrontEnd } from "../../src/detect/frontend.js";
import { type LanguageModel, StreamingPooler, softmax } from "../../src/detect/model.js";

/** Seconds of active speech at which accuracy is reported. */
export const HORIZONS = [1, 2, 3, 5];

/** Posteriors after 1/2/3/5 s of active speech (null where the trial has less speech). */
export function posteriorsAt(model: LanguageModel, pcm: Int16Array): (Float64Array | null)[] {
  const stepsPerSecond = 100 / model.stride;
  const pooler = new StreamingPooler(model, 100000);
  const got: (Float64Array | null)[] = HORIZONS.map(() => null);
  const fe = new FrontEnd(
    (f) => {
      if (!f.normalized) return;
      pooler.push(f.normalized);
      HORIZONS.forEach((h, i) => {
        if (got[i] === null && pooler.stepCount === h * stepsPerSecond) {
          got[i] = softmax(pooler.logitsNow() as Float64Array);
        }
      });
    },
    {},
    model.normalization,
  );
  fe.push(pcm);
  return got;
}
