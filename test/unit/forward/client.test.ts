// The forwarding client against the real development transcriber over a real socket.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Duration, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AudioBatch, AudioBatcher, type LanguageTag } from "../../../src/forward/batcher.js";
import { createTranscriptionClient, type TranscriptionClient } from "../../../src/forward/client.js";
import {
  buildFlushRequest,
  buildPushRequest,
  type SessionContext,
  toAudioChunk,
} from "../../../src/forward/messages.js";
import { Outbox } from "../../../src/forward/outbox.js";
import { withRetry } from "../../../src/forward/retry.js";
import {
  Channel,
  TranscriptionService,
} from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { type DevTranscriber, startDevTranscriber } from "../../../tools/dev-transcriber/server.js";
import { concat, frames, silence, voiced } from "./audio-fixtures.js";
import { pushRound } from "./push-round.js";

const es: LanguageTag = { code: "es-ES", confidence: 0.93, provisional: false };
let server: DevTranscriber;
let client: TranscriptionClient;
const token = "dev-token";

beforeAll(async () => {
  server = await startDevTranscriber({ port: 0, log: "silent", token });
  client = createTranscriptionClient({ baseUrl: server.url, fetch, getToken: async () => token });
});
afterAll(() => server.close());

const ms = (d: Duration | undefined) => {
  if (d === undefined) throw new Error("missing duration");
  return durationMs(d);
};

const ctx = (sessionId: string): SessionContext => ({
  sessionId,
  conversationId: "conv-1",
  participantId: "p-1",
});

/** Batches a clip on the external channel (and silence on internal), 20 ms frames in, 100 ms batches out. */
function batchesOf(clip: Int16Array): AudioBatch[] {
  const batcher = new AudioBatcher();
  const out: AudioBatch[] = [];
  const quiet = silence(clip.length / 8000, 8000, 7);
  const q = frames(quiet);
  for (const frame of frames(clip)) {
    out.push(...batcher.push("external", frame, es));
    const other = q.next();
    if (!other.done) out.push(...batcher.push("internal", other.value, es));
  }
  out.push(...batcher.flush());
  return out;
}

describe("forwarding to the dev transcriber", () => {
  it("round-trips PushAudio and places the utterance within 0.2 s", async () => {
    const session = ctx("s-roundtrip");
    const outbox = new Outbox({ maxSamples: 60 * 8000 * 2 });
    for (const b of batchesOf(concat(silence(1), voiced(1.5), silence(1))))
      expect(outbox.enqueue(b).ok).toBe(true);
    let cursor = 0;
    const results = [];
    while (!outbox.isEmpty) {
      const round = await pushRound(client, outbox, session, cursor, { maxBatches: 10 });
      results.push(...round.results);
      cursor = round.lastResultSequence;
    }
    const flushed = await client.flushSession(
      buildFlushRequest(session.sessionId, "closed", { lastResultSequence: cursor }),
    );
    results.push(...flushed.results);
    expect(results).toHaveLength(1);
    const r = results[0];
    if (r?.offset === undefined || r.duration === undefined) throw new Error("missing timing");
    expect(r).toMatchObject({
      channel: Channel.EXTERNAL,
      isFinal: true,
      language: "es-ES",
      text: "[es-ES speech 1.50 s]",
    });
    // An echoed tag is not an identification: the dev server reports it with confidence 0.
    expect(r.languageConfidence).toBe(0);
    expect(Math.abs(durationMs(r.offset) - 1000)).toBeLessThanOrEqual(200);
    expect(Math.abs(durationMs(r.offset) + durationMs(r.duration) - 2500)).toBeLessThanOrEqual(200);
    expect(server.stats().sessions["s-roundtrip"]?.channels.EXTERNAL).toMatchObject({ acked: 35, gaps: 0 });
  });

  it("deduplicates a retried batch", async () => {
    const session = ctx("s-retry");
    const batches = batchesOf(silence(0.5));
    const request = buildPushRequest(session, batches);
    const first = await client.pushAudio(request);
    const again = await client.pushAudio(request);
    expect(again.acks).toEqual(first.acks);
    const stats = server.stats().sessions["s-retry"]?.channels;
    expect(stats?.EXTERNAL).toMatchObject({ chunks: 5, duplicates: 5, samples: 4000 });
  });

  it("detects a gap, acknowledges past it and ignores the late chunk", async () => {
    const session = ctx("s-gap");
    const [b1, b2, b3] = batchesOf(silence(0.3)).filter((b) => b.channel === "external");
    if (b1 === undefined || b2 === undefined || b3 === undefined) throw new Error("fixture");
    await client.pushAudio(buildPushRequest(session, [b1]));
    const afterGap = await client.pushAudio(buildPushRequest(session, [b3]));
    expect(afterGap.acks.map((a) => [a.channel, a.sequenceNumber])).toEqual([[Channel.EXTERNAL, 3n]]);
    await client.pushAudio(buildPushRequest(session, [b2]));
    expect(server.stats().sessions["s-gap"]?.channels.EXTERNAL).toMatchObject({
      gaps: 1,
      lostChunks: 1,
      duplicates: 1,
    });
  });

  it("flushes the utterance in progress on FlushSession, and repeats it when asked again", async () => {
    const session = ctx("s-flush");
    const outbox = new Outbox({ maxSamples: 60 * 8000 * 2 });
    for (const b of batchesOf(concat(silence(1), voiced(1)))) outbox.enqueue(b);
    let cursor = 0;
    while (!outbox.isEmpty) {
      const round = await pushRound(client, outbox, session, cursor, { maxBatches: 20 });
      expect(round.results).toEqual([]);
      cursor = round.lastResultSequence;
    }
    const flushed = await client.flushSession(buildFlushRequest(session.sessionId, "closed"));
    expect(flushed.results.map((r) => [r.text, r.isFinal, Math.round(ms(r.offset))])).toEqual([
      ["[es-ES speech 1.00 s]", true, 1000],
    ]);
    // A lost answer: the same request returns the same results; with the cursor, none.
    const retried = await client.flushSession(buildFlushRequest(session.sessionId, "closed"));
    expect(retried.results.map((r) => r.sequenceNumber)).toEqual([1n]);
    const done = await client.flushSession(
      buildFlushRequest(session.sessionId, "closed", { lastResultSequence: 1 }),
    );
    expect(done.results).toEqual([]);
    expect(server.stats().sessions["s-flush"]?.ended).toBe(true);
  });

  it("cuts an utterance where the language changes and reports an override language", async () => {
    const session = ctx("s-lang");
    server.setReportLanguage("s-lang", "fr-FR");
    const batcher = new AudioBatcher();
    const out: AudioBatch[] = [];
    const clip = concat(silence(0.5), voiced(2), silence(0.5));
    let i = 0;
    for (const frame of frames(clip)) {
      const tag = i++ < 100 ? es : { code: "en-US", confidence: 0.7, provisional: true };
      out.push(...batcher.push("external", frame, tag));
    }
    out.push(...batcher.flush());
    const res = await client.pushAudio(buildPushRequest(session, out));
    expect(res.results.map((r) => [r.language, r.text])).toEqual([
      ["fr-FR", "[fr-FR speech 1.50 s]"],
      ["fr-FR", "[fr-FR speech 0.50 s]"],
    ]);
  });

  it("retries UNAVAILABLE and RESOURCE_EXHAUSTED (honouring retry-after-ms) and fails fast on a bad token", async () => {
    server.faults.add({ kind: "resource-exhausted", calls: 1, retryAfterMs: 30, methods: ["PushAudio"] });
    server.faults.add({ kind: "unavailable", forMs: 40, methods: ["PushAudio"] });
    const delays: number[] = [];
    const request = buildPushRequest(ctx("s-faults"), batchesOf(silence(0.1)));
    const started = Date.now();
    const res = await withRetry(() => client.pushAudio(request), {
      random: () => 1 - Number.EPSILON,
      onRetry: (r) => delays.push(r.delayMs),
    });
    expect(res.acks.length).toBe(2);
    expect(delays[0]).toBe(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);

    const anonymous = createTranscriptionClient({ baseUrl: server.url, fetch });
    await expect(withRetry(() => anonymous.pushAudio(request))).rejects.toMatchObject({
      code: "ERR_TRANSCRIBER_UNAUTHENTICATED",
    });
    server.faults.add({ kind: "unauthenticated", calls: 1 });
    await expect(withRetry(() => client.pushAudio(request))).rejects.toMatchObject({
      code: "ERR_TRANSCRIBER_UNAUTHENTICATED",
    });
  });

  it("treats a refused connection as retryable and gives up within the policy", async () => {
    const dead = createTranscriptionClient({ baseUrl: "http://127.0.0.1:9", fetch });
    const delays: number[] = [];
    await expect(
      withRetry(() => dead.flushSession(buildFlushRequest("s-dead", "closed")), {
        policy: { baseDelayMs: 1, maxDelayMs: 2, maxServerDelayMs: 0, maxAttempts: 3, maxElapsedMs: 1000 },
        onRetry: (r) => delays.push(r.code),
      }),
    ).rejects.toMatchObject({ code: "ERR_TRANSCRIBER_UNAVAILABLE" });
    expect(delays).toHaveLength(2);
  });

  // createTranscriptionClient speaks Connect unary through its own lean path unless given interceptors,
  // which route it through the library's transport: both must fail the same way.
  describe("fails as the library's transport does", () => {
    const passThrough: Interceptor = (next) => (req) => next(req);
    let hanging: Server;
    let hangingUrl = "";
    let garbled: Server;
    let garbledUrl = "";
    let agents: string[] = [];
    const listen = async (server: Server) => {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    beforeAll(async () => {
      hanging = createServer(() => {}); // accepts, never answers
      hangingUrl = await listen(hanging);
      // Answers 200 with the right content type and a body that is no protobuf message.
      garbled = createServer((req, res) => {
        agents.push(req.headers["user-agent"] ?? "");
        res.writeHead(200, { "content-type": "application/proto" }).end(Buffer.from([0xff, 0xff, 0xff]));
      });
      garbledUrl = await listen(garbled);
    });
    afterAll(() => {
      hanging.closeAllConnections();
      hanging.close();
      garbled.close();
    });
    const paths: [string, Interceptor[]][] = [
      ["lean", []],
      ["library", [passThrough]],
    ];
    const failure = async (call: Promise<unknown>) => {
      const err = await call.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectError);
      return err as ConnectError;
    };

    it.each(paths)("%s: a deadline is DeadlineExceeded", async (_, interceptors) => {
      const c = createTranscriptionClient({ baseUrl: hangingUrl, fetch, timeoutMs: 50, interceptors });
      const err = await failure(c.flushSession(buildFlushRequest("s-deadline", "closed")));
      expect(err.code).toBe(Code.DeadlineExceeded);
    });

    it.each(paths)("%s: the caller's abort is Canceled", async (_, interceptors) => {
      const c = createTranscriptionClient({ baseUrl: hangingUrl, fetch, interceptors });
      const err = await failure(
        c.flushSession(buildFlushRequest("s-abort", "closed"), { signal: AbortSignal.timeout(30) }),
      );
      expect(err.code).toBe(Code.Canceled);
    });

    it.each(paths)(
      "%s: a token getter's error is the cause, and no request goes",
      async (_, interceptors) => {
        const mine = new Error("token endpoint: 503");
        const calls = () => Object.values(server.stats().calls).reduce((a, b) => a + b, 0);
        const before = calls();
        const c = createTranscriptionClient({
          baseUrl: server.url,
          fetch,
          interceptors,
          getToken: async () => {
            throw mine;
          },
        });
        const err = await failure(c.flushSession(buildFlushRequest("s-token", "closed")));
        expect(err.cause).toBe(mine);
        expect(calls()).toBe(before);
      },
    );

    it.each(paths)(
      "%s: a body that is not the message is a ConnectError, and the call says who sent it",
      async (_, interceptors) => {
        agents = [];
        const c = createTranscriptionClient({ baseUrl: garbledUrl, fetch, interceptors });
        const err = await failure(c.flushSession(buildFlushRequest("s-garbled", "closed")));
        expect(err.code).toBe(Code.Internal);
        expect(agents[0]).toMatch(/^connect-es\//);
      },
    );

    it.each(paths)("%s: a Connect error keeps its code, message and metadata", async (_, interceptors) => {
      server.faults.add({
        kind: "resource-exhausted",
        calls: 1,
        retryAfterMs: 70,
        methods: ["FlushSession"],
      });
      const c = createTranscriptionClient({
        baseUrl: server.url,
        fetch,
        interceptors,
        getToken: async () => token,
      });
      const err = await failure(c.flushSession(buildFlushRequest("s-exhausted", "closed")));
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).not.toBe("");
      expect(err.metadata.get("retry-after-ms")).toBe("70");
    });
  });

  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  it.each([
    [
      "Connect",
      () => createConnectTransport({ baseUrl: server.url, httpVersion: "2", interceptors: [auth] }),
    ],
    ["gRPC", () => createGrpcTransport({ baseUrl: server.url, interceptors: [auth] })],
  ])("streams audio over HTTP/2 from Node (StreamAudio, %s)", async (name, transport) => {
    const h2 = createClient(TranscriptionService, transport());
    const session = ctx(`s-stream-${name}`);
    async function* chunks() {
      for (const b of batchesOf(concat(silence(1), voiced(1.5), silence(0.2))))
        yield toAudioChunk(b, session);
    }
    const results = [];
    for await (const r of h2.streamAudio(chunks())) results.push(r);
    expect(results.map((r) => [r.channel, r.isFinal, r.text])).toEqual([
      [Channel.EXTERNAL, true, "[es-ES speech 1.50 s]"],
    ]);
    expect(Math.abs(ms(results[0]?.offset) - 1000)).toBeLessThanOrEqual(200);
  });
});
