// `npm run dev`: the worker under wrangler (http://127.0.0.1:8787) and the development transcription
// server beside it (127.0.0.1:50051). Creates .dev.vars from .dev.vars.example on first run.

import { spawn } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log(
    "dev: created .dev.vars from .dev.vars.example (the published AudioHook documentation key pair)",
  );
}

const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
const children = [];

function start(name, command, args) {
  const child = spawn(command, args, { stdio: "inherit", env });
  child.on("exit", (code, signal) => {
    console.log(`dev: ${name} exited (${signal ?? code})`);
    shutdown(code ?? 1);
  });
  children.push(child);
}

let stopping = false;
function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

// npm puts node_modules/.bin first on PATH, so `node` here is the Node 22 that wrangler needs.
if (existsSync("tools/dev-transcriber/main.ts")) {
  start("dev-transcriber", "node", ["--import", "tsx", "tools/dev-transcriber/main.ts"]);
}
start("wrangler", "wrangler", ["dev", "--ip", "127.0.0.1", "--port", "8787", ...process.argv.slice(2)]);
