// TRANSCRIPTION_PROTOCOL=grpc-web: the forwarding client against the development transcriber (which serves
// gRPC-web beside Connect) over a real socket, including the failures the retry policy must read.
import { durationMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AudioBatch, AudioBatcher, type LanguageTag } from "../../../src/forward/batcher.js";
import {
  createTranscriptionClient,
  type FetchInit,
  type TranscriptionClient,
} from "../../../src/forward/client.js";
import { buildFlushRequest, buildPushRequest, type SessionContext } from "../../../src/forward/messages.js";
import { withRetry } from "../../../src/forward/retry.js";
import { Channel } from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { type DevTranscriber, startDevTranscriber } from "../../../tools/dev-transcriber/server.js";
import { concat, frames, silence, voiced } from "./audio-fixtures.js";

const es: LanguageTag = { code: "es-ES", confidence: 0.93, provisional: false };
const token = "dev-token";
let server: DevTranscriber;
let client: TranscriptionClient;
/** Content types and grpc-status headers of every exchange, to prove what went over the wire. */
const wire: { requestType: string | null; responseType: string | null; length: string | null }[] = [];

/** Node's fetch, recording each exchange's content types. */
async function recordingFetch(url: string, init: FetchInit): Promise<Response> {
  const res = await fetch(url, init);
  wire.push({
    requestType: init.headers.get("content-type"),
    responseType: res.headers.get("content-type"),
    length: init.body instanceof Uint8Array ? String(init.body.byteLength) : null,
  });
  return res;
}

beforeAll(async () => {
  server = await startDevTranscriber({ port: 0, log: "silent", token });
  client = createTranscriptionClient({
    baseUrl: server.url,
    fetch: recordingFetch,
    getToken: async () => token,
    protocol: "grpc-web",
  });
});
afterAll(() => server.close());

/** A gRPC-web trailer frame: flag 0x80, big-endian length, then HTTP/1-style header lines. */
function trailerFrame(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const frame = new Uint8Array(5 + bytes.length);
  frame[0] = 0x80;
  new DataView(frame.buffer).setUint32(1, bytes.length);
  frame.set(bytes, 5);
  return frame;
}

const ctx = (sessionId: string): SessionContext => ({
  sessionId,
  conversationId: "conv-1",
  participantId: "p-1",
});

function batchesOf(clip: Int16Array): AudioBatch[] {
  const batcher = new AudioBatcher();
  const out: AudioBatch[] = [];
  for (const frame of frames(clip)) out.push(...batcher.push("external", frame, es));
  out.push(...batcher.flush());
  return out;
}

describe("forwarding over gRPC-web", () => {
  it("pushes, deduplicates and flushes with application/grpc-web+proto bodies", async () => {
    wire.length = 0;
    const session = ctx("gw-roundtrip");
    const request = buildPushRequest(session, batchesOf(concat(silence(1), voiced(1.5), silence(1))));
    const pushed = await client.pushAudio(request);
    const again = await client.pushAudio(request);
    expect(again.acks).toEqual(pushed.acks);
    expect(pushed.acks.map((a) => [a.channel, a.sequenceNumber])).toEqual([[Channel.EXTERNAL, 35n]]);
    const last = pushed.results.at(-1)?.sequenceNumber ?? 0n;
    const flushed = await client.flushSession(
      buildFlushRequest(session.sessionId, "closed", { lastResultSequence: Number(last) }),
    );
    const results = [...pushed.results, ...flushed.results];
    expect(results.map((r) => [r.text, r.language, r.isFinal])).toEqual([
      ["[es-ES speech 1.50 s]", "es-ES", true],
    ]);
    const offset = results[0]?.offset;
    if (offset === undefined) throw new Error("missing offset");
    expect(Math.abs(durationMs(offset) - 1000)).toBeLessThan(200);
    expect(server.stats().sessions["gw-roundtrip"]?.channels.EXTERNAL).toMatchObject({
      chunks: 35,
      duplicates: 35,
    });
    expect(wire).toHaveLength(3);
    for (const exchange of wire) {
      expect(exchange.requestType).toBe("application/grpc-web+proto");
      expect(exchange.responseType).toBe("application/grpc-web+proto");
      // Unary calls are sent as bytes (with a Content-Length), not as a streamed body.
      expect(Number(exchange.length)).toBeGreaterThan(0);
    }
  });

  it("honours RESOURCE_EXHAUSTED's retry-after-ms and retries UNAVAILABLE", async () => {
    server.faults.add({ kind: "resource-exhausted", calls: 1, retryAfterMs: 120, sessions: ["gw-faults"] });
    server.faults.add({ kind: "unavailable", forMs: 200, sessions: ["gw-faults"] });
    const retries: { delayMs: number; code: number }[] = [];
    const request = buildPushRequest(ctx("gw-faults"), batchesOf(silence(0.3)));
    const started = Date.now();
    const res = await withRetry(() => client.pushAudio(request), {
      // The top of the jitter range: UNAVAILABLE waits 100, 200... so the 200 ms outage is outlasted.
      random: () => 1 - Number.EPSILON,
      onRetry: (r) => retries.push({ delayMs: r.delayMs, code: r.code }),
    });
    expect(res.acks.map((a) => a.sequenceNumber)).toEqual([3n]);
    // The server's delay, read from gRPC-web metadata, replaces the jittered one (which would be 99).
    expect(retries[0]).toEqual({ delayMs: 120, code: 8 /* ResourceExhausted */ });
    expect(retries.slice(1).every((r) => r.code === 14 /* Unavailable */)).toBe(true);
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(server.stats().sessions["gw-faults"]?.channels.EXTERNAL).toMatchObject({
      chunks: 3,
      duplicates: 0,
    });
  });

  // A gRPC-web proxy in front of a native gRPC server answers an error either "trailers-only" (status and
  // metadata in the HTTP headers) or with a trailer frame at the end of the body; the delay is read in both.
  it.each([
    ["trailers-only", new Headers({ "grpc-status": "8", "retry-after-ms": "250" }), new Uint8Array()],
    ["a trailer frame", new Headers(), trailerFrame("grpc-status: 8\r\nretry-after: 2\r\n")],
  ])("reads retry-after from a proxy's %s error", async (_shape, headers, body) => {
    headers.set("content-type", "application/grpc-web+proto");
    const proxied = createTranscriptionClient({
      baseUrl: "https://proxy.example",
      fetch: async () => new Response(body, { status: 200, headers }),
      protocol: "grpc-web",
    });
    const delays: number[] = [];
    await expect(
      withRetry(() => proxied.flushSession(buildFlushRequest("gw-proxy", "closed")), {
        policy: {
          baseDelayMs: 1,
          maxDelayMs: 1,
          maxServerDelayMs: 5000,
          maxAttempts: 2,
          maxElapsedMs: 10_000,
        },
        sleep: async () => {},
        onRetry: (r) => delays.push(r.delayMs),
      }),
    ).rejects.toMatchObject({ code: "ERR_TRANSCRIBER_UNAVAILABLE" });
    expect(delays).toEqual([headers.has("retry-after-ms") ? 250 : 2000]);
  });

  it("gives up at once on UNAUTHENTICATED, from a missing token and from the server's refusal", async () => {
    const request = buildPushRequest(ctx("gw-auth"), batchesOf(silence(0.1)));
    const anonymous = createTranscriptionClient({ baseUrl: server.url, fetch, protocol: "grpc-web" });
    let attempts = 0;
    await expect(
      withRetry(() => {
        attempts += 1;
        return anonymous.pushAudio(request);
      }),
    ).rejects.toMatchObject({ code: "ERR_TRANSCRIBER_UNAUTHENTICATED" });
    expect(attempts).toBe(1);
    server.faults.add({ kind: "unauthenticated", calls: 1, sessions: ["gw-auth"] });
    await expect(withRetry(() => client.pushAudio(request))).rejects.toMatchObject({
      code: "ERR_TRANSCRIBER_UNAUTHENTICATED",
    });
  });
});
