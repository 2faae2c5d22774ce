// The data path end to end inside workerd: a Genesys-like client → CallSession → the real development
// transcription server over a real socket → transcripts back as AudioHook events.

import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/audiohook/duration";
import { encodeMulawSample } from "../../src/media/pcmu";
import { GenesysClient, type ServerMessage, ZERO_UUID } from "./genesys-client";
import { injectFault, sessionStats } from "./transcriber";

const RATE = 8000;

/** A stereo clip: `spans[c]` lists [start, end) seconds where channel c has a speech-level tone. */
function clip(seconds: number, spans: [number, number][][]): Int16Array[] {
  return spans.map((channelSpans, c) => {
    const pcm = new Int16Array(seconds * RATE);
    for (const [from, to] of channelSpans) {
      for (let i = Math.round(from * RATE); i < Math.round(to * RATE); i++) {
        pcm[i] = Math.round(9000 * Math.sin((2 * Math.PI * (180 + 70 * c) * i) / RATE));
      }
    }
    return pcm;
  });
}

function pcmuFrame(channels: Int16Array[], from: number, samples: number): Uint8Array {
  const out = new Uint8Array(samples * channels.length);
  for (let i = 0; i < samples; i++) {
    channels.forEach((pcm, c) => {
      out[i * channels.length + c] = encodeMulawSample(pcm[from + i] ?? 0);
    });
  }
  return out;
}

/** Streams [fromSec, toSec) of the clip in 100 ms frames. */
function stream(client: GenesysClient, channels: Int16Array[], fromSec: number, toSec: number): void {
  const step = RATE / 10;
  for (let at = Math.round(fromSec * RATE); at < Math.round(toSec * RATE); at += step) {
    client.sendAudio(pcmuFrame(channels, at, step), step);
  }
}

interface Utterance {
  channelId: number;
  offset: number;
  duration: number;
  language: string;
  text: string;
}

/** Closes the call and collects every transcript event that arrives before `closed`. */
async function closeAndCollect(client: GenesysClient, timeoutMs = 10_000): Promise<Utterance[]> {
  client.send("close", { reason: "end" });
  const utterances: Utterance[] = [];
  for (;;) {
    const item = await client.next(timeoutMs);
    if (item.kind === "close") throw new Error(`socket closed before closed: ${item.code} ${item.reason}`);
    const message: ServerMessage = item.message;
    if (message.type === "closed") return utterances;
    if (message.type === "disconnect") throw new Error(`disconnected: ${JSON.stringify(message.parameters)}`);
    if (message.type !== "event") continue;
    for (const entity of message.parameters.entities as { type: string; data: Record<string, unknown> }[]) {
      const alt = (
        entity.data.alternatives as { languages: string[]; interpretations: { transcript: string }[] }[]
      )[0];
      utterances.push({
        channelId: entity.data.channelId as number,
        offset: parseDuration(entity.data.offset as string) ?? Number.NaN,
        duration: parseDuration(entity.data.duration as string) ?? Number.NaN,
        language: alt?.languages[0] ?? "",
        text: alt?.interpretations[0]?.transcript ?? "",
      });
    }
  }
}

async function openCall(parameters: Record<string, unknown> = {}, path?: string): Promise<GenesysClient> {
  const client = await GenesysClient.connect(path ? { path } : {});
  client.open(parameters);
  await client.expect("opened");
  return client;
}

describe("forwarding and transcripts", () => {
  it("returns each channel's utterances as events with the right channel and timeline", async () => {
    const spans: [number, number][][] = [
      [
        [0.5, 1.7],
        [3.0, 4.2],
      ],
      [[2.0, 3.1]],
    ];
    const client = await openCall();
    stream(client, clip(5, spans), 0, 5);
    const utterances = await closeAndCollect(client);
    const expected = spans.flatMap((list, channelId) => list.map(([from, to]) => ({ channelId, from, to })));
    expect(utterances).toHaveLength(expected.length);
    for (const want of expected) {
      const got = utterances.find(
        (u) => u.channelId === want.channelId && Math.abs(u.offset - want.from) <= 0.25,
      );
      expect(got, `utterance on channel ${want.channelId} at ${want.from} s`).toBeDefined();
      expect(Math.abs((got?.offset ?? 0) + (got?.duration ?? 0) - want.to)).toBeLessThanOrEqual(0.25);
      expect(got?.language).toBe("en-US");
      expect(got?.text).toMatch(/^\[en-US speech \d+\.\d+ s\]$/);
    }
    const stats = await sessionStats(client.sessionId);
    expect(stats?.ended).toBe(true);
    for (const channel of Object.values(stats?.channels ?? {})) {
      expect(channel).toMatchObject({ samples: 5 * RATE, duplicates: 0, gaps: 0 });
    }
  });

  it("ends the utterance in progress at pause and update, and carries it across discarded audio", async () => {
    const audio = clip(5, [[[0, 5]], []]);
    const client = await openCall({
      media: [{ type: "audio", format: "PCMU", channels: ["external", "internal"], rate: 8000 }],
    });
    stream(client, audio, 0, 1);
    client.send("paused");
    client.send("resumed", { start: client.position(), discarded: "PT0S" });
    stream(client, audio, 1, 2);
    client.send("update", { language: "es-ES" });
    stream(client, audio, 2, 3);
    client.send("discarded", { start: client.position(), discarded: "PT0.5S" });
    client.positionSamples += RATE / 2;
    stream(client, audio, 3.5, 4.5);
    const utterances = (await closeAndCollect(client)).filter((u) => u.channelId === 0);
    // As Genesys' reference server does: one transcript across the discarded half second, whose
    // timeline still counts the missing audio (2 s to 4.5 s).
    expect(utterances.map((u) => [Math.round(u.offset * 10) / 10, u.language])).toEqual([
      [0, "en-US"],
      [1, "en-US"],
      [2, "es-ES"],
    ]);
    expect(Math.abs((utterances[2]?.offset ?? 0) + (utterances[2]?.duration ?? 0) - 4.5)).toBeLessThanOrEqual(
      0.25,
    );
  });

  it("delivers every chunk once, in order, when the service is unavailable for 3 s mid-call", async () => {
    const audio = clip(4, [[[0.2, 3.8]], [[1.0, 2.0]]]);
    const client = await openCall();
    stream(client, audio, 0, 1);
    client.send("ping");
    await client.expect("pong");
    await injectFault({ kind: "unavailable", forMs: 3000, sessions: [client.sessionId] });
    const started = Date.now();
    stream(client, audio, 1, 4);
    await closeAndCollect(client, 15_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    const stats = await sessionStats(client.sessionId);
    for (const channel of Object.values(stats?.channels ?? {})) {
      expect(channel).toMatchObject({ samples: 4 * RATE, chunks: 40, gaps: 0, lostChunks: 0 });
    }
  }, 20_000);

  it("backs off as RESOURCE_EXHAUSTED asks", async () => {
    const client = await openCall();
    await injectFault({
      kind: "resource-exhausted",
      calls: 2,
      retryAfterMs: 400,
      sessions: [client.sessionId],
    });
    const started = Date.now();
    stream(client, clip(1, [[[0.1, 0.9]], []]), 0, 1);
    const utterances = await closeAndCollect(client);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect(utterances).toHaveLength(1);
  });

  it("does not duplicate a batch retried after its response was lost", async () => {
    const client = await openCall();
    await injectFault({ kind: "lose-response", calls: 1, sessions: [client.sessionId] });
    stream(client, clip(2, [[[0.2, 1.8]], []]), 0, 2);
    const utterances = await closeAndCollect(client);
    expect(utterances).toHaveLength(1);
    const stats = await sessionStats(client.sessionId);
    const external = stats?.channels.EXTERNAL ?? stats?.channels.external;
    expect(external?.duplicates).toBeGreaterThan(0);
    expect(external).toMatchObject({ samples: 2 * RATE, chunks: 20, gaps: 0 });
  });

  it("ends the call with a clear reason when the service refuses our credentials", async () => {
    const client = await openCall();
    await injectFault({ kind: "unauthenticated", calls: 5, sessions: [client.sessionId] });
    stream(client, clip(1, [[[0.1, 0.9]], []]), 0, 0.3);
    await client.expectDisconnect("error", /rejected our credentials \(UNAUTHENTICATED\)/);
  });

  it("keeps delivering what it holds after the object is evicted", async () => {
    const client = await openCall();
    await injectFault({ kind: "unavailable", forMs: 1500, sessions: [client.sessionId] });
    stream(client, clip(2, [[[0.2, 1.8]], []]), 0, 2);
    client.send("ping");
    await client.expect("pong");
    await evictDurableObject(env.CALL_SESSION.get(env.CALL_SESSION.idFromName(client.sessionId)));
    const utterances = await closeAndCollect(client, 15_000);
    expect(utterances).toHaveLength(1);
    const stats = await sessionStats(client.sessionId);
    const external = stats?.channels.EXTERNAL ?? stats?.channels.external;
    expect(external).toMatchObject({ samples: 2 * RATE, gaps: 0 });
  }, 20_000);

  it("sends nothing downstream for a probe, and only forwards on the Monitor path", async () => {
    const probe = await openCall(
      { conversationId: ZERO_UUID, participant: { id: ZERO_UUID } },
      "/api/v1/audiohook/ws",
    );
    probe.send("close", { reason: "end" });
    await probe.expect("closed");
    expect(await sessionStats(probe.sessionId)).toBeUndefined();

    const monitor = await openCall({}, "/api/v1/audiohook/ws");
    stream(monitor, clip(2, [[[0.2, 1.5]], []]), 0, 2);
    expect(await closeAndCollect(monitor)).toEqual([]);
    const stats = await sessionStats(monitor.sessionId);
    expect(stats?.results).toBeGreaterThan(0);
  });
});
