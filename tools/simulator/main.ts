// Streams a WAV file into langhook exactly as Genesys Cloud would: signed upgrade, open/opened,
// paced binary frames, pings, close/closed. Prints the server's events (transcripts) as they arrive.
//
//   npm run simulate -- call.wav [--url ws://127.0.0.1:8787/api/v1/voicetranscription/ws]
//     [--language en-US] [--format PCMU|L16] [--frame-ms 100] [--speed 1] [--api-key K] [--secret S]

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { encodeMulawSample } from "../../src/media/pcmu";
import { audiohookHeaders } from "./sign";
import { readWav, resample } from "./wav";

const DEV_API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
const DEV_SECRET = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string", default: "ws://127.0.0.1:8787/api/v1/voicetranscription/ws" },
    language: { type: "string", default: "en-US" },
    format: { type: "string", default: "PCMU" },
    "frame-ms": { type: "string", default: "100" },
    speed: { type: "string", default: "1" },
    "api-key": { type: "string", default: process.env.AUDIOHOOK_API_KEY?.split(",")[0] ?? DEV_API_KEY },
    secret: { type: "string", default: process.env.AUDIOHOOK_CLIENT_SECRET?.split(",")[0] ?? DEV_SECRET },
    org: { type: "string", default: "d7934305-0972-4844-938e-9060eef73d05" },
    help: { type: "boolean", default: false },
  },
});

function die(message: string): never {
  console.error(`simulate: ${message}`);
  process.exit(2);
}

if (values.help || positionals.length !== 1) {
  console.log(
    "usage: npm run simulate -- <file.wav> [--url URL] [--language en-US] [--format PCMU|L16] [--frame-ms 100] [--speed 1]",
  );
  process.exit(values.help ? 0 : 2);
}
const format =
  values.format === "L16" ? "L16" : values.format === "PCMU" ? "PCMU" : die("--format is PCMU or L16");
const frameMs = Number(values["frame-ms"]);
const speed = Number(values.speed);
if (!(frameMs >= 10 && frameMs <= 1000)) die("--frame-ms must be between 10 and 1000");
if (!(speed >= 0)) die("--speed must be 0 (as fast as possible) or more");

const wav = readWav(new Uint8Array(readFileSync(positionals[0] as string)));
const channels = wav.channels.map((c) => resample(c, wav.rate, 8000));
const names = channels.length === 2 ? ["external", "internal"] : ["external"];
const total = channels[0]?.length ?? 0;

const url = new URL(values.url);
const sessionId = crypto.randomUUID();
const headers = await audiohookHeaders({
  target: url.pathname + url.search,
  authority: url.host,
  apiKey: values["api-key"],
  secret: values.secret === "" ? null : values.secret,
  organizationId: values.org,
  sessionId,
  correlationId: crypto.randomUUID(),
});

// Node 22's WebSocket (undici) takes headers in its second argument; the types here are the Workers ones.
const ws = new WebSocket(url.toString(), { headers } as unknown as string[]);
ws.binaryType = "arraybuffer";
let seq = 0;
let serverseq = 0;
let sent = 0;
const position = () => `PT${(sent / 8000).toFixed(3)}S`;
const send = (type: string, parameters: Record<string, unknown> = {}) =>
  ws.send(
    JSON.stringify({
      version: "2",
      id: sessionId,
      type,
      seq: ++seq,
      serverseq,
      position: position(),
      parameters,
    }),
  );

let resolveOpened: () => void = () => {};
const opened = new Promise<void>((resolve) => {
  resolveOpened = resolve;
});
let resolveClosed: () => void = () => {};
const closed = new Promise<void>((resolve) => {
  resolveClosed = resolve;
});
let failed = false;

ws.addEventListener("message", (event) => {
  const message = JSON.parse(String(event.data)) as {
    type: string;
    seq: number;
    parameters: Record<string, unknown>;
  };
  serverseq = message.seq;
  switch (message.type) {
    case "opened":
      console.log(`opened: ${JSON.stringify(message.parameters)}`);
      resolveOpened();
      break;
    case "event":
      for (const entity of (message.parameters.entities as {
        type: string;
        data: Record<string, unknown>;
      }[]) ?? []) {
        const data = entity.data;
        const alt = (
          data.alternatives as { languages?: string[]; interpretations?: { transcript: string }[] }[]
        )?.[0];
        console.log(
          `${entity.type} ch${data.channelId} ${data.offset}+${data.duration} [${alt?.languages?.join(",")}] ${alt?.interpretations?.[0]?.transcript ?? ""}`,
        );
      }
      break;
    case "disconnect":
      console.log(`disconnect: ${JSON.stringify(message.parameters)}`);
      failed = message.parameters.reason !== "completed";
      send("close", { reason: "disconnect" });
      break;
    case "closed":
      console.log("closed");
      resolveClosed();
      break;
    default:
      console.log(`${message.type}: ${JSON.stringify(message.parameters)}`);
  }
});
ws.addEventListener("close", (event) => {
  console.log(`socket closed: ${event.code} ${event.reason}`);
  resolveClosed();
  resolveOpened();
});
ws.addEventListener("error", () => die(`cannot connect to ${url} (is \`npm run dev\` running?)`));

await new Promise<void>((resolve) => ws.addEventListener("open", () => resolve(), { once: true }));
console.log(
  `connected: session ${sessionId}, ${(total / 8000).toFixed(1)} s of ${names.join("+")} audio as ${format}`,
);
send("open", {
  organizationId: values.org,
  conversationId: crypto.randomUUID(),
  participant: {
    id: crypto.randomUUID(),
    ani: "+15551230000",
    aniName: "Simulated caller",
    dnis: "+15557650000",
  },
  media: [{ type: "audio", format, channels: names, rate: 8000 }],
  language: values.language,
});
await opened;

const step = (frameMs / 1000) * 8000;
const started = Date.now();
let lastPing = started;
let lastProgress = started;
for (let at = 0; at < total && ws.readyState === WebSocket.OPEN; at += step) {
  const n = Math.min(step, total - at);
  const bytes = new Uint8Array(n * names.length * (format === "PCMU" ? 1 : 2));
  const view = new DataView(bytes.buffer);
  for (let i = 0, b = 0; i < n; i++) {
    for (const channel of channels) {
      const s = channel[at + i] ?? 0;
      if (format === "PCMU") bytes[b++] = encodeMulawSample(s);
      else {
        view.setInt16(b, s, true);
        b += 2;
      }
    }
  }
  ws.send(bytes);
  sent += n;
  const now = Date.now();
  if (now - lastPing >= 5000) {
    send("ping");
    lastPing = now;
  }
  if (now - lastProgress >= 5000) {
    console.log(`progress: ${(sent / 8000).toFixed(1)} / ${(total / 8000).toFixed(1)} s sent`);
    lastProgress = now;
  }
  if (speed > 0) {
    const due = started + (sent / 8000 / speed) * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
  }
}
if (ws.readyState === WebSocket.OPEN) {
  console.log(`sent ${(sent / 8000).toFixed(1)} s; closing`);
  send("close", { reason: "end" });
}
await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
ws.close();
process.exit(failed ? 1 : 0);
