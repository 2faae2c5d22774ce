// The bridge serves langhook's contract in every protocol and HTTP version a client may use (the Worker's
// Connect or gRPC-web unary calls over HTTP/1.1, a Node client's gRPC streams over HTTP/2), plus /healthz,
// and checks langhook's bearer token when configured.
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTranscriptionClient } from "../../../src/forward/client.js";
import {
  Channel,
  FlushReason,
  TranscriptionService,
} from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { parseBridgeConfig } from "../../../tools/bridge/config.js";
import { type Bridge, startBridge } from "../../../tools/bridge/server.js";
import { type SeedServer, startSeedServer } from "../../support/seed-server.js";
import { callAudio } from "./driver.js";

const token = "bridge-token";
let seed: SeedServer;
let bridge: Bridge;

beforeAll(async () => {
  seed = await startSeedServer({ textEvery: 5, language: "es-ES:0.9" });
  const parsed = parseBridgeConfig(["--upstream", seed.url, "--port", "0", "--host", "127.0.0.1"], {
    BRIDGE_TOKEN: token,
  });
  if (parsed.ok !== true) throw new Error("config");
  bridge = await startBridge(parsed.config, () => {});
});
afterAll(async () => {
  await bridge.close();
  await seed.close();
});

const auth: Interceptor = (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

describe("langhook's contract on the bridge", () => {
  it.each<[string, () => Transport]>([
    [
      "Connect, HTTP/1.1",
      () => createConnectTransport({ baseUrl: bridge.url, httpVersion: "1.1", interceptors: [auth] }),
    ],
    [
      "Connect, HTTP/2",
      () => createConnectTransport({ baseUrl: bridge.url, httpVersion: "2", interceptors: [auth] }),
    ],
    ["gRPC, HTTP/2", () => createGrpcTransport({ baseUrl: bridge.url, interceptors: [auth] })],
    [
      "gRPC-web, HTTP/1.1",
      () => createGrpcWebTransport({ baseUrl: bridge.url, httpVersion: "1.1", interceptors: [auth] }),
    ],
    [
      "gRPC-web, HTTP/2",
      () => createGrpcWebTransport({ baseUrl: bridge.url, httpVersion: "2", interceptors: [auth] }),
    ],
  ])("answers PushAudio and FlushSession over %s", async (name, transport) => {
    const client: Client<typeof TranscriptionService> = createClient(TranscriptionService, transport());
    const sessionId = `p-${name}`;
    const pushed = await client.pushAudio({ sessionId, chunks: callAudio(sessionId, 5) });
    expect(pushed.acks.map((a) => [a.channel, a.sequenceNumber])).toEqual([
      [Channel.EXTERNAL, 5n],
      [Channel.INTERNAL, 5n],
    ]);
    const flushed = await client.flushSession({ sessionId, reason: FlushReason.CLOSED, endSession: true });
    const results = [...pushed.results, ...flushed.results];
    expect(results.map((r) => [r.channel, r.text, r.language, r.languageConfidence])).toEqual(
      expect.arrayContaining([
        [Channel.EXTERNAL, "words 1-5", "es-ES", expect.closeTo(0.9, 5)],
        [Channel.INTERNAL, "words 1-5", "es-ES", expect.closeTo(0.9, 5)],
      ]),
    );
  });

  it("streams a call with StreamAudio over gRPC (HTTP/2): results as they come, the rest at the end", async () => {
    const client = createClient(
      TranscriptionService,
      createGrpcTransport({ baseUrl: bridge.url, interceptors: [auth] }),
    );
    const sessionId = "p-stream";
    async function* chunks() {
      yield* callAudio(sessionId, 12);
    }
    const texts: string[] = [];
    for await (const r of client.streamAudio(chunks())) texts.push(`${r.channel}:${r.text}`);
    expect(texts.sort()).toEqual([
      "1:words 1-5",
      "1:words 11-12",
      "1:words 6-10",
      "2:words 1-5",
      "2:words 11-12",
      "2:words 6-10",
    ]);
    expect(seed.streams.get(`conv-${sessionId}/agent`)?.processed).toHaveLength(12);
  });

  it("refuses a call without langhook's token, and serves /healthz", async () => {
    const anonymous = createTranscriptionClient({ baseUrl: bridge.url, fetch });
    await expect(anonymous.pushAudio({ sessionId: "p-anon", chunks: [] })).rejects.toMatchObject({
      code: 16,
    });
    const health = await fetch(`${bridge.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, upstream: seed.url });
  });
});
