// The development transcriber's edges: full-duplex StreamAudio over HTTP/1.1, the control endpoints,
// WAV recording.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AudioBatcher } from "../../../src/forward/batcher.js";
import { createTranscriptionClient } from "../../../src/forward/client.js";
import { buildFlushRequest, buildPushRequest, toAudioChunk } from "../../../src/forward/messages.js";
import type { AudioChunk } from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { type DevTranscriber, startDevTranscriber } from "../../../tools/dev-transcriber/server.js";
import { concat, frames, silence, voiced } from "../forward/audio-fixtures.js";

let server: DevTranscriber;
let recordDir: string;
const lines: Record<string, unknown>[] = [];
const tag = { code: "de-DE", confidence: 0.8, provisional: false };

beforeAll(async () => {
  recordDir = await mkdtemp(join(tmpdir(), "dev-transcriber-"));
  server = await startDevTranscriber({ port: 0, record: recordDir, log: (l) => lines.push(l) });
});
afterAll(async () => {
  await server.close();
  await rm(recordDir, { recursive: true, force: true });
});

const session = (id: string) => ({ sessionId: id, conversationId: "c", participantId: "p" });

describe("dev transcriber", () => {
  it("serves StreamAudio full duplex over HTTP/1.1: a result arrives while the request is still open", async () => {
    // Node's fetch speaks HTTP/1.1 here, like a Worker's outbound fetch.
    const client = createTranscriptionClient({ baseUrl: server.url, fetch });
    const input = createWritableIterable<AudioChunk>();
    const responses = client.streamAudio(input)[Symbol.asyncIterator]();
    const batcher = new AudioBatcher();
    for (const frame of frames(concat(silence(0.5), voiced(1), silence(0.4)))) {
      for (const b of batcher.push("internal", frame, tag))
        await input.write(toAudioChunk(b, session("s-h1")));
    }
    const first = await responses.next();
    expect(first.done).toBe(false);
    expect(first.value?.text).toBe("[de-DE speech 1.00 s]");
    input.close();
    expect((await responses.next()).done).toBe(true);
  });

  it("answers h2c and HTTP/1.1 on the same port", async () => {
    const h1 = await fetch(`${server.url}/dev/stats`);
    expect(h1.status).toBe(200);
    const h2Status = await new Promise<number>((resolve, reject) => {
      const c = http2.connect(server.url);
      c.on("error", reject);
      const req = c.request({ ":path": "/dev/stats" });
      req.on("response", (h) => {
        resolve(Number(h[":status"]));
        req.resume();
        req.on("end", () => c.close());
      });
    });
    expect(h2Status).toBe(200);
  });

  it("arms faults and report languages through the control endpoints", async () => {
    const client = createTranscriptionClient({ baseUrl: server.url, fetch });
    const arm = await fetch(`${server.url}/dev/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "resource-exhausted", calls: 1, retryAfterMs: 1234 }),
    });
    expect(arm.status).toBe(204);
    const err = await client.flushSession(buildFlushRequest("x", "paused")).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 8 });
    expect((err as { metadata: Headers }).metadata.get("retry-after-ms")).toBe("1234");
    const bad = await fetch(`${server.url}/dev/faults`, {
      method: "POST",
      body: JSON.stringify({ kind: "nope" }),
    });
    expect(bad.status).toBe(400);

    await fetch(`${server.url}/dev/report-language`, {
      method: "POST",
      body: JSON.stringify({ sessionId: "s-lang", language: "pt-BR" }),
    });
    const b = new AudioBatcher();
    const batches = [...b.push("external", concat(silence(0.2), voiced(0.5)), tag), ...b.flush()];
    await client.pushAudio(buildPushRequest(session("s-lang"), batches));
    const res = await client.flushSession(buildFlushRequest("s-lang", "closed"));
    expect(res.results.map((r) => r.text)).toEqual(["[pt-BR speech 0.50 s]"]);
    expect(lines.some((l) => l.event === "fault")).toBe(true);
  });

  it("records an ended session's channels as WAV", async () => {
    const client = createTranscriptionClient({ baseUrl: server.url, fetch });
    const b = new AudioBatcher();
    const batches = [...b.push("external", voiced(0.25), tag), ...b.flush()];
    await client.pushAudio(buildPushRequest(session("s-rec"), batches));
    await client.flushSession(buildFlushRequest("s-rec", "closed"));
    await vi_waitFor(async () => (await readdir(recordDir)).includes("s-rec-EXTERNAL.wav"));
    const wav = await readFile(join(recordDir, "s-rec-EXTERNAL.wav"));
    expect(wav.subarray(0, 4).toString()).toBe("RIFF");
    expect(wav.length).toBe(44 + 2000 * 2);
  });
});

async function vi_waitFor(check: () => Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}
