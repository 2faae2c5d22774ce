// Fails when src/gen is not what `buf generate` makes from proto/ (run by `npm test`).
// Generates into a temporary folder so a check never rewrites the tree.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const out = mkdtempSync(join(tmpdir(), "langhook-gen-"));
try {
  execFileSync("buf", ["generate", "--output", out], { stdio: "inherit" });
  const fresh = files(join(out, "src/gen"))
    .map((f) => relative(out, f))
    .sort();
  const committed = files("src/gen").sort();
  const stale = [
    ...fresh.filter(
      (f) => !committed.includes(f) || readFileSync(f, "utf8") !== readFileSync(join(out, f), "utf8"),
    ),
    ...committed.filter((f) => !fresh.includes(f)),
  ];
  if (stale.length > 0) {
    console.error(`src/gen is stale (run npm run generate and commit): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log(`src/gen is current (${fresh.length} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
