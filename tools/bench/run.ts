// `npm run bench`: CPU cost of the gateway's hot paths in plain Node, as medians over several runs and
// as ratios to a baseline loop measured in the same run (the machines are shared and noisy).
// Writes bench/results/gateway-<timestamp>.json and prints a table.

import { mkdirSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseClientMessage } from "../../src/audiohook/messages";
import { initialState, onAudio, onMessage, type SessionState } from "../../src/audiohook/session";
import { authenticateUpgrade } from "../../src/audiohook/signature";
import { AudioBatcher } from "../../src/forward/batcher";
import { toAudioChunk } from "../../src/forward/messages";
import { decodeFrame } from "../../src/media/frames";
import { audiohookHeaders } from "../simulator/sign";

const RUNS = 7;
const AUDIO_SECONDS = 60;
const FRAME_MS = 20;
const FRAMES = (AUDIO_SECONDS * 1000) / FRAME_MS;
const SAMPLES = (8000 * FRAME_MS) / 1000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function measure(run: () => void | Promise<void>): Promise<number> {
  await run(); // warm-up: let the JIT settle before timing
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}

const stereoFrame = Uint8Array.from({ length: SAMPLES * 2 }, (_, i) => (i * 37) & 0xff);
const media = { format: "PCMU" as const, channels: ["external", "internal"] as const, rate: 8000 };

// Baseline: touch every byte of a minute of stereo PCMU once (what any per-sample work costs at least).
const baseline = await measure(() => {
  let sum = 0;
  for (let f = 0; f < FRAMES; f++)
    for (let i = 0; i < stereoFrame.length; i++) sum += stereoFrame[i] as number;
  if (sum < 0) throw new Error("unreachable");
});

const decode = await measure(() => {
  for (let f = 0; f < FRAMES; f++) decodeFrame(stereoFrame, media, 8000);
});

const SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0";
const ORG = "d7934305-0972-4844-938e-9060eef73d05";
const limits = { maxFrameSamples: 8000, supportedLanguages: ["en-US"] };
function openedState(): SessionState {
  const open = parseClientMessage(
    JSON.stringify({
      version: "2",
      id: SESSION,
      type: "open",
      seq: 1,
      serverseq: 0,
      position: "PT0S",
      parameters: {
        organizationId: ORG,
        conversationId: "090eaa2f-72fa-480a-83e0-8667ff89c0ec",
        participant: { id: "883efee8-3d6c-4537-b500-6d7ca4b92fa0" },
        media: [{ type: "audio", format: "PCMU", channels: ["external", "internal"], rate: 8000 }],
      },
    }),
  );
  if (!open.ok) throw new Error(open.error.info);
  const start = initialState({
    sessionId: SESSION,
    organizationId: ORG,
    correlationId: SESSION,
    endpoint: "transcription",
  });
  return onMessage(start, open.message, limits).state;
}

const protocol = await measure(() => {
  let state = openedState();
  for (let f = 0; f < FRAMES; f++) state = onAudio(state, stereoFrame, limits).state;
});

const pings = 1000;
const pingTexts = Array.from({ length: pings }, (_, i) =>
  JSON.stringify({
    version: "2",
    id: SESSION,
    type: "ping",
    seq: i + 2,
    serverseq: 1,
    position: "PT0S",
    parameters: {},
  }),
);
const textMessages = await measure(() => {
  let state = openedState();
  for (const text of pingTexts) {
    const parsed = parseClientMessage(text);
    if (parsed.ok) state = onMessage(state, parsed.message, limits).state;
  }
});

const batching = await measure(() => {
  const batcher = new AudioBatcher({ batchMs: 100 });
  const pcm = new Int16Array(SAMPLES);
  const tag = { code: "en-US", confidence: 1, provisional: false };
  const context = { sessionId: SESSION, conversationId: SESSION, participantId: SESSION };
  for (let f = 0; f < FRAMES; f++) {
    for (const channel of ["external", "internal"] as const) {
      for (const batch of batcher.push(channel, pcm, tag)) toAudioChunk(batch, context);
    }
  }
});

const headers = await audiohookHeaders({
  target: "/api/v1/voicetranscription/ws",
  authority: "langhook.example.com",
  apiKey: "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh",
  secret: "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=",
  organizationId: ORG,
  sessionId: SESSION,
  correlationId: SESSION,
});
const upgrades = 200;
const signature = await measure(async () => {
  for (let i = 0; i < upgrades; i++) {
    const result = await authenticateUpgrade(
      {
        target: "/api/v1/voicetranscription/ws",
        authority: "langhook.example.com",
        header: (n) => headers[n] ?? null,
      },
      [
        {
          apiKey: "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh",
          secret: "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=",
        },
      ],
      Math.floor(Date.now() / 1000),
    );
    if (!result.ok) throw new Error(result.code);
  }
});

const perAudioSecond = (ms: number) => ms / AUDIO_SECONDS;
const results = {
  node: process.version,
  runs: RUNS,
  audioSecondsPerRun: AUDIO_SECONDS,
  frameMs: FRAME_MS,
  metrics: {
    baselineMsPerAudioSecond: perAudioSecond(baseline),
    decodeStereoPcmuMsPerAudioSecond: perAudioSecond(decode),
    decodeRatioToBaseline: decode / baseline,
    protocolAudioPathMsPerAudioSecond: perAudioSecond(protocol),
    protocolRatioToBaseline: protocol / baseline,
    textMessageMicroseconds: (textMessages / pings) * 1000,
    batchingAndEncodingMsPerAudioSecond: perAudioSecond(batching),
    signatureVerifyMicroseconds: (signature / upgrades) * 1000,
  },
};

mkdirSync("bench/results", { recursive: true });
const file = `bench/results/gateway-${new Date().toISOString().replaceAll(":", "-")}.json`;
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(
  `gateway hot paths, median of ${RUNS} runs of ${AUDIO_SECONDS} s of stereo audio in ${FRAME_MS} ms frames`,
);
for (const [name, value] of Object.entries(results.metrics))
  console.log(`  ${name.padEnd(40)} ${value.toFixed(4)}`);
console.log(`written to ${file}`);
