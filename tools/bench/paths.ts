// What each way of reaching a transcription service adds to a call's round trip, measured locally:
// the Worker's client inside workerd (plain Miniflare) sends PushAudio (100 ms of both channels) to
//   - the development transcriber directly, in Connect and in gRPC-web,
//   - the same server through a TRANSCRIPTION_SERVICE binding to a relay Worker,
//   - tools/bridge, which forwards to a seed-contract gRPC server (@grpc/grpc-js) and answers once the
//     service has acknowledged the chunks, in Connect and in gRPC-web;
// and, from Node, the seed server's own chunk → acknowledgement round trip over native gRPC, so the
// bridge's share can be told apart. Medians per run, then the median and range over the runs.
// workerd's clock moves in 1 ms steps locally, so each sample is the mean of `per` consecutive calls.
//   npx tsx tools/bench/paths.ts [--runs 5] [--samples 25] [--per 20] [--out bench/results/paths.json]
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import {
  AudioChunkSchema as SeedChunkSchema,
  TranscriptionService as SeedService,
} from "../../src/gen/seed/transcription_pb.js";
import { startSeedServer } from "../../test/support/seed-server.js";
import { parseBridgeConfig } from "../bridge/config.js";
import { startBridge } from "../bridge/server.js";
import { startDevTranscriber } from "../dev-transcriber/server.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    samples: { type: "string", default: "25" },
    per: { type: "string", default: "20" },
    out: { type: "string", default: "bench/results/paths.json" },
  },
});
const runs = Number(values.runs);
const samples = Number(values.samples);
const per = Number(values.per);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const transcriber = await startDevTranscriber({ port: 0, log: "silent" });
const seed = await startSeedServer({ textEvery: 5 });
const parsed = parseBridgeConfig(["--upstream", seed.url, "--host", "127.0.0.1", "--port", "0"], {});
if (parsed.ok !== true) throw new Error("bridge config");
const bridge = await startBridge(parsed.config, () => {});

const bundled = await build({
  entryPoints: [join(ROOT, "tools/bench/paths-worker.ts")],
  bundle: true,
  format: "esm",
  platform: "neutral",
  mainFields: ["module", "main"],
  write: false,
});
const mf = new Miniflare(
  convertV4MiniflareOptions({
    log: new Log(LogLevel.WARN),
    workers: [
      {
        name: "caller",
        modules: true,
        script: bundled.outputFiles[0]?.text ?? "",
        compatibilityDate: "2026-08-01",
        serviceBindings: { TRANSCRIPTION_SERVICE: "relay" },
      },
      {
        name: "relay",
        modules: true,
        scriptPath: join(ROOT, "test/workers-binding/transcription-worker.js"),
        compatibilityDate: "2026-08-01",
        bindings: { UPSTREAM_URL: transcriber.url },
      },
    ],
  }),
);
await mf.ready;

const paths: { name: string; query: Record<string, string> }[] = [
  { name: "Connect, direct", query: { url: transcriber.url, protocol: "connect" } },
  { name: "gRPC-web, direct", query: { url: transcriber.url, protocol: "grpc-web" } },
  {
    name: "Connect, service binding + relay Worker",
    query: { url: "https://transcription-service", via: "binding" },
  },
  { name: "Connect, bridge → seed gRPC", query: { url: bridge.url, protocol: "connect" } },
  { name: "gRPC-web, bridge → seed gRPC", query: { url: bridge.url, protocol: "grpc-web" } },
];

/** The seed server's own round trip from Node: one chunk written on a stream, until its acknowledgement. */
async function seedDirect(): Promise<number[]> {
  const client = createClient(SeedService, createGrpcTransport({ baseUrl: seed.url }));
  const pending: ((seq: number) => void)[] = [];
  const queue: ReturnType<typeof create<typeof SeedChunkSchema>>[] = [];
  // A holder, not a `let`: TypeScript does not see the closure assign it and narrows a `let` to null.
  const waiting: { wake: (() => void) | null } = { wake: null };
  let ended = false;
  async function* input() {
    for (;;) {
      const next = queue.shift();
      if (next) yield next;
      else if (ended) return;
      else
        await new Promise<void>((r) => {
          waiting.wake = r;
        });
    }
  }
  const conversationId = `direct-${Date.now()}`;
  const reading = (async () => {
    for await (const r of client.streamAudio(input())) pending.shift()?.(r.sequenceNumber);
  })();
  let seq = 0;
  const once = () =>
    new Promise<number>((resolve) => {
      seq += 1;
      pending.push(resolve);
      queue.push(
        create(SeedChunkSchema, {
          conversationId,
          participantId: "p",
          sequenceNumber: seq,
          audioData: new Uint8Array(1600),
        }),
      );
      waiting.wake?.();
    });
  const acknowledged = async () => {
    const ack = await once();
    if (ack !== seq) throw new Error(`chunk ${seq} answered with the acknowledgement of ${ack}`);
  };
  for (let i = 0; i < 20; i++) await acknowledged();
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const started = performance.now();
    for (let i = 0; i < per; i++) await acknowledged();
    out.push((performance.now() - started) / per);
  }
  ended = true;
  waiting.wake?.();
  await reading;
  return out;
}

const results: Record<string, number[]> = {};
const record = (name: string, value: number) => {
  results[name] = [...(results[name] ?? []), value];
};
try {
  for (let run = 0; run < runs; run++) {
    for (const path of paths) {
      const query = new URLSearchParams({ ...path.query, samples: String(samples), per: String(per) });
      const res = await mf.dispatchFetch(`http://caller/?${query}`);
      if (!res.ok) throw new Error(`${path.name}: ${res.status} ${await res.text()}`);
      record(path.name, median((await res.json()) as number[]));
    }
    record("native gRPC to the seed server from Node (reference)", median(await seedDirect()));
  }
} finally {
  await mf.dispose();
  await bridge.close();
  await seed.close();
  await transcriber.close();
}

const rows = Object.entries(results).map(([name, medians]) => ({
  path: name,
  medianMs: Number(median(medians).toFixed(2)),
  minMs: Number(Math.min(...medians).toFixed(2)),
  maxMs: Number(Math.max(...medians).toFixed(2)),
  runs: medians.length,
}));
console.log(
  `PushAudio round trip, 100 ms of both channels a call; medians of ${runs} runs (${samples} × ${per} calls each)`,
);
for (const r of rows)
  console.log(`${r.path.padEnd(56)} ${r.medianMs.toFixed(2).padStart(6)} ms  (runs ${r.minMs}-${r.maxMs})`);
await mkdir(dirname(join(ROOT, values.out)), { recursive: true });
await writeFile(
  join(ROOT, values.out),
  `${JSON.stringify({ date: new Date().toISOString(), runs, samples, per, rows }, null, 2)}\n`,
);
