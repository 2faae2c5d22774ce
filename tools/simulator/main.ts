// Streams audio into langhook exactly as Genesys Cloud would (signed upgrade, open/opened, paced binary
// frames, pings, close/closed), one call or many at once, and sums up what came back.
//
//   npm run simulate -- call.wav                        one call, printing the server's messages
//   npm run simulate -- --tone --seconds 60 --sessions 20   twenty concurrent synthetic calls
//
// `--help` lists the options (tools/simulator/args.ts).

import { readFileSync, writeFileSync } from "node:fs";
import { parseSimulateArgs, type SimulateOptions, USAGE } from "./args";
import { pcmFrames, RATE, readWav, toneConversation } from "./audio";
import { type CallResult, type ChannelName, SimulatedCall } from "./call";
import { formatSummary, progressLine, summarize } from "./summary";

const parsed = parseSimulateArgs(process.argv.slice(2), process.env);
if (parsed.kind === "help") {
  console.log(USAGE);
  process.exit(0);
}
if (parsed.kind === "error") {
  console.error(`simulate: ${parsed.error}\n\n${USAGE}`);
  process.exit(2);
}
const options = parsed.options;

function loadAudio(o: SimulateOptions): Int16Array[] {
  if (o.wav === null) return toneConversation(o.seconds ?? 30, o.toneChannels);
  try {
    return readWav(new Uint8Array(readFileSync(o.wav)));
  } catch (err) {
    console.error(`simulate: ${o.wav}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
}

const audio = loadAudio(options);
const names: ChannelName[] = audio.length === 2 ? ["external", "internal"] : ["external"];
const totalSamples = options.seconds === null ? (audio[0]?.length ?? 0) : Math.round(options.seconds * RATE);
const single = options.sessions === 1;
const stop = new AbortController();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

process.once("SIGINT", () => {
  // First ^C: end the audio and close every call properly; a second one leaves at once.
  stop.abort();
  process.once("SIGINT", () => process.exit(130));
});

console.log(
  `${options.sessions} call(s) to ${options.url}: ${(totalSamples / RATE).toFixed(1)} s of ${names.join("+")} ` +
    `${options.wav ?? "tone"} audio each as ${options.format}, language ${options.language ?? "none"}`,
);

const calls: SimulatedCall[] = [];
const runs: Promise<CallResult>[] = [];
const started = performance.now();
const live = !single && !options.verbose && process.stdout.isTTY === true;
let lastPrinted = started;
const progress = setInterval(
  () => {
    const now = performance.now();
    if (live) process.stdout.write(`\r\x1b[2K${progressLine(calls, now - started)}`);
    else if (now - lastPrinted >= 5000) {
      console.log(`progress: ${progressLine(calls, now - started)}`);
      lastPrinted = now;
    }
  },
  live ? 250 : 1000,
);

for (let i = 0; i < options.sessions && !stop.signal.aborted; i++) {
  if (i > 0) await sleep(options.staggerMs);
  const call: SimulatedCall = new SimulatedCall({
    url: options.url,
    apiKey: options.apiKey,
    secret: options.secret,
    organizationId: options.organizationId,
    language: options.language,
    format: options.format,
    channels: names,
    frameMs: options.frameMs,
    speed: options.speed,
    pingIntervalMs: options.pingMs,
    source: pcmFrames(audio, options.format, totalSamples),
    signal: stop.signal,
    ...(single || options.verbose
      ? { log: (line: string) => console.log(single ? line : `[${call.sessionId.slice(0, 8)}] ${line}`) }
      : {}),
  });
  calls.push(call);
  if (single) console.log(`session ${call.sessionId}`);
  runs.push(call.run());
}

const results = await Promise.all(runs);
clearInterval(progress);
if (live) process.stdout.write(`\r\x1b[2K${progressLine(calls, performance.now() - started)}\n`);

const summary = summarize(results, names.length);
console.log(`\n${formatSummary(summary).join("\n")}`);
if (options.json !== null) {
  writeFileSync(
    options.json,
    `${JSON.stringify({ options: { ...options, secret: undefined }, summary, results }, null, 2)}\n`,
  );
  console.log(`summary written to ${options.json}`);
}
process.exit(summary.failed > 0 || summary.protocolErrors > 0 ? 1 : 0);
