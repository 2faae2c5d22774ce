// `npm run test:lid` (part of `npm test`): the language-ID tools' Python tests (tools/lid/tests), where this
// machine has Python 3 with numpy, scipy and pytest; otherwise one line saying they were skipped and why.
// LID_PYTEST_REQUIRED=1 (set by .ci/run once it installed tools/lid/requirements*.lock) makes a skip an error.
import { spawnSync } from "node:child_process";

const python = process.env.PYTHON ?? "python3";
const probe = spawnSync(python, ["-c", "import numpy, scipy, pytest"], { stdio: "ignore" });
if (probe.error || probe.status !== 0) {
  const why = probe.error ? `${python} not found` : `${python} lacks numpy, scipy or pytest`;
  if (process.env.LID_PYTEST_REQUIRED === "1") {
    console.error(`test:lid: ${why}, and LID_PYTEST_REQUIRED=1`);
    process.exit(1);
  }
  console.log(`test:lid: skipped (${why}; see tools/lid/requirements-test.lock)`);
  process.exit(0);
}
const run = spawnSync(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tools/lid/tests"], {
  stdio: "inherit",
  env: { ...process.env, OPENBLAS_NUM_THREADS: "1" },
});
process.exit(run.status ?? 1);
