// The bridge between langhook's contract and a seed-contract gRPC service, end to end over real sockets:
// the langhook client (as the Worker uses it) → bridge → an independent @grpc/grpc-js server of the seed's
// contract. Every test checks the service processed each chunk exactly once, in order, whatever failed.
import { durationMs } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Channel } from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { type BridgeConfig, parseBridgeConfig } from "../../../tools/bridge/config.js";
import { type Bridge, startBridge } from "../../../tools/bridge/server.js";
import { type SeedServer, startSeedServer } from "../../support/seed-server.js";
import { callAudio, deliver, langhookClient } from "./driver.js";

let seed: SeedServer;
let bridge: Bridge;
const events: Record<string, unknown>[] = [];

function config(overrides: Partial<BridgeConfig> = {}): BridgeConfig {
  const parsed = parseBridgeConfig(
    [
      "--upstream",
      seed.url,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--retry-base-ms",
      "50",
      "--retry-max-ms",
      "400",
    ],
    {},
  );
  if (parsed.ok !== true) throw new Error(String(parsed.ok === false ? parsed.error : "help"));
  return { ...parsed.config, ...overrides };
}

beforeAll(async () => {
  seed = await startSeedServer({ textEvery: 5 });
  bridge = await startBridge(config(), (event, fields) => events.push({ event, ...fields }));
});
afterAll(async () => {
  await bridge.close();
  await seed.close();
});
afterEach(() => {
  events.length = 0;
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** The service processed 1..n once each, in order, on both of the call's streams. */
function expectComplete(sessionId: string, n: number) {
  for (const participant of ["customer-7", "agent"]) {
    const state = seed.streams.get(`conv-${sessionId}/${participant}`);
    expect(state?.processed, participant).toEqual(range(n));
    expect(state?.bytes).toBe(n * 1600);
  }
}

/** Each channel's texts cover 1..n in consecutive spans of 5, once each. */
function expectTranscripts(results: { channel: Channel; text: string }[], n: number) {
  for (const channel of [Channel.EXTERNAL, Channel.INTERNAL]) {
    const texts = results.filter((r) => r.channel === channel).map((r) => r.text);
    const want = range(Math.ceil(n / 5)).map((i) => `words ${(i - 1) * 5 + 1}-${Math.min(i * 5, n)}`);
    expect(texts, `channel ${channel}`).toEqual(want);
  }
}

describe("bridge → seed service", () => {
  it("delivers a call complete and in order, one stream per channel, and maps the results back", async () => {
    const sessionId = "b-plain";
    const { results } = await deliver(langhookClient(bridge.url), sessionId, callAudio(sessionId, 30));
    expectComplete(sessionId, 30);
    expectTranscripts(results, 30);
    const first = results.find((r) => r.channel === Channel.INTERNAL);
    expect(first).toMatchObject({
      text: "words 1-5",
      language: "es-ES",
      languageConfidence: 0,
      isFinal: true,
    });
    // Chunks 1-5 are the first 500 ms of the channel's timeline.
    expect(first?.offset && durationMs(first.offset)).toBe(0);
    expect(first?.duration && durationMs(first.duration)).toBe(500);
    const sixth = results.find((r) => r.channel === Channel.EXTERNAL && r.text === "words 26-30");
    expect(sixth?.offset && durationMs(sixth.offset)).toBe(2500);
    // One stream per channel, opened once, with results numbered 1..12 over the call.
    expect(bridge.stats().sessions[sessionId]?.channels).toMatchObject({
      EXTERNAL: { streams: 1, acked: 30, held: 0 },
      INTERNAL: { streams: 1, acked: 30, held: 0 },
    });
    expect(results.map((r) => Number(r.sequenceNumber))).toEqual(range(12));
    expect(seed.streams.get(`conv-${sessionId}/customer-7`)?.formats).toEqual(new Set(["L16"]));
  });

  it("resumes a stream the service breaks mid-call from the last acknowledged chunk", async () => {
    const sessionId = "b-break";
    seed.breakAt("customer-7", 12);
    seed.breakAt("agent", 23);
    const { results } = await deliver(langhookClient(bridge.url), sessionId, callAudio(sessionId, 30));
    expectComplete(sessionId, 30);
    expectTranscripts(results, 30);
    const channels = bridge.stats().sessions[sessionId]?.channels;
    expect(channels?.EXTERNAL?.streams).toBe(2);
    expect(channels?.INTERNAL?.streams).toBe(2);
    expect(events.filter((e) => e.event === "upstream-retry").map((e) => e.code)).toEqual([
      "Unavailable",
      "Unavailable",
    ]);
  });

  it("gets the last utterance's text when the stream breaks at the flush, all audio already acknowledged", async () => {
    const sessionId = "b-break-end";
    seed.breakAtEnd("agent");
    const { results } = await deliver(langhookClient(bridge.url), sessionId, callAudio(sessionId, 7));
    expectComplete(sessionId, 7);
    // 6-7 were acknowledged but their text was still to come when the stream broke: a new stream, half-closed
    // at once, lets the service send it.
    expectTranscripts(results, 7);
    expect(bridge.stats().sessions[sessionId]?.channels.INTERNAL?.streams).toBe(2);
  });

  it("waits out RESOURCE_EXHAUSTED for as long as the service asks", async () => {
    const sessionId = "b-exhausted";
    seed.refuse(3, 300);
    const started = Date.now();
    const { results } = await deliver(langhookClient(bridge.url), sessionId, callAudio(sessionId, 10));
    expectComplete(sessionId, 10);
    expectTranscripts(results, 10);
    const retries = events.filter((e) => e.event === "upstream-retry");
    expect(retries.map((e) => [e.code, e.delayMs])).toEqual([
      ["ResourceExhausted", 300],
      ["ResourceExhausted", 300],
      ["ResourceExhausted", 300],
    ]);
    // Two channels refused in parallel: at least two 300 ms waits in a row on one of them.
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
  });

  it("loses and duplicates nothing when the service is down for 2 s mid-call", async () => {
    const sessionId = "b-down";
    let downAt = 0;
    let upAgain = 0;
    const { results } = await deliver(langhookClient(bridge.url), sessionId, callAudio(sessionId, 40), {
      tickMs: 20,
      between: async (pushes) => {
        if (pushes !== 5) return;
        await seed.stop();
        downAt = Date.now();
        setTimeout(() => {
          void seed.start().then(() => {
            upAgain = Date.now();
          });
        }, 2000);
      },
    });
    expect(upAgain - downAt).toBeGreaterThanOrEqual(2000);
    expectComplete(sessionId, 40);
    expectTranscripts(results, 40);
    const retries = events.filter((e) => e.event === "upstream-retry");
    expect(retries.length).toBeGreaterThanOrEqual(2);
    // The open streams are reset when the server goes (Canceled, Internal), then connections are refused.
    for (const e of retries) expect(["Canceled", "Internal", "Unavailable"]).toContain(e.code);
    expect(retries.filter((e) => /ECONNREFUSED/.test(String(e.error))).length).toBeGreaterThanOrEqual(2);
  }, 15_000);

  it("with --ack received, acknowledges what it holds while the service is down, and still delivers it", async () => {
    const received = await startBridge(config({ ackMode: "received" }), () => {});
    try {
      const sessionId = "b-received";
      const client = langhookClient(received.url);
      await seed.stop();
      const pushed = await client.pushAudio({ sessionId, chunks: callAudio(sessionId, 10) });
      // Ahead of the service (it is down): the bridge's memory is now the only copy langhook relies on.
      expect(pushed.acks.map((a) => a.sequenceNumber)).toEqual([10n, 10n]);
      await seed.start();
      const flushed = await client.flushSession({ sessionId, reason: 4, endSession: true });
      expectComplete(sessionId, 10);
      expectTranscripts([...pushed.results, ...flushed.results], 10);
    } finally {
      await received.close();
    }
  });

  it("on shutdown, drains what it holds to the service before closing (--ack received)", async () => {
    const received = await startBridge(config({ ackMode: "received" }), () => {});
    const sessionId = "b-drain";
    await seed.stop();
    const pushed = await langhookClient(received.url).pushAudio({
      sessionId,
      chunks: callAudio(sessionId, 8),
    });
    expect(pushed.acks.map((a) => a.sequenceNumber)).toEqual([8n, 8n]);
    setTimeout(() => void seed.start(), 300);
    await received.drain(3000);
    await received.close();
    expectComplete(sessionId, 8);
  });

  it("refuses audio past --max-held-seconds with RESOURCE_EXHAUSTED, keeping what it took", async () => {
    const small = await startBridge(config({ ackMode: "received", maxHeldSeconds: 1 }), () => {});
    try {
      const sessionId = "b-held";
      const client = langhookClient(small.url);
      await seed.stop();
      const chunks = callAudio(sessionId, 15);
      const refusal = await client.pushAudio({ sessionId, chunks }).catch((err: unknown) => err);
      expect(refusal).toMatchObject({ code: 8, rawMessage: expect.stringMatching(/already holds 1 s/) });
      // The first second of each channel was taken; the rest stays with the client.
      expect(small.stats().sessions[sessionId]?.channels).toMatchObject({
        EXTERNAL: { received: 10, heldSamples: 8000 },
        INTERNAL: { received: 10, heldSamples: 8000 },
      });
      await seed.start();
      const { results } = await deliver(client, sessionId, chunks);
      expectComplete(sessionId, 15);
      expectTranscripts(results, 15);
    } finally {
      await small.close();
    }
  });

  it("ends the call with FAILED_PRECONDITION when the service refuses for good", async () => {
    const sessionId = "b-refused";
    seed.reject(2, grpc.status.UNAUTHENTICATED);
    const client = langhookClient(bridge.url);
    const chunks = callAudio(sessionId, 1);
    await client.pushAudio({ sessionId, chunks });
    await new Promise((r) => setTimeout(r, 100));
    await expect(client.pushAudio({ sessionId, chunks })).rejects.toMatchObject({
      code: 9, // FailedPrecondition
      rawMessage: expect.stringMatching(/seed service refused the stream: Unauthenticated/),
    });
  });
});
