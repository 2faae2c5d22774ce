// Defects found in review of the call's core: each test failed before its fix.

import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { encodeMulawSample } from "../../src/media/pcmu";
import { GenesysClient, pcmuStereo } from "./genesys-client";
import { injectFault, sessionStats } from "./transcriber";

const stubFor = (name: string) => env.CALL_SESSION.get(env.CALL_SESSION.idFromName(name));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Moves the object's clock `ms` ahead of real time, then runs its alarm as the runtime would. */
async function alarmAfter(name: string, ms: number): Promise<boolean> {
  await runInDurableObject(stubFor(name), (instance) => {
    const real = Date.now;
    (instance as unknown as { now: () => number }).now = () => real() + ms;
  });
  return runDurableObjectAlarm(stubFor(name));
}

const SECRET = new TextEncoder().encode("langhook-development-media-api-secret-0123456789");

async function mediaApiUpgrade(conversationId: string): Promise<Response> {
  const jwt = await new SignJWT({ scope: "media:websocket:read" })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(SECRET);
  return SELF.fetch(
    `https://langhook.test/media-api?conversationId=${conversationId}&participantId=agent-7&language=en-US`,
    {
      headers: {
        upgrade: "websocket",
        "sec-websocket-protocol": "media-api",
        authorization: `Bearer ${jwt}`,
      },
    },
  );
}

/** A media-api socket that collects its frames and its close. */
function collect(ws: WebSocket): { frames: Record<string, unknown>[]; closed: { code: number } | null } {
  const seen = { frames: [] as Record<string, unknown>[], closed: null as { code: number } | null };
  ws.addEventListener("message", (e) => seen.frames.push(JSON.parse(e.data as string)));
  ws.addEventListener("close", (e) => {
    seen.closed = { code: e.code };
  });
  return seen;
}

function mediaFrame(conversationId: string, sequenceNumber: number): string {
  const bytes = Uint8Array.from(new Int16Array(800), (s) => encodeMulawSample(s));
  return JSON.stringify({
    conversationId,
    participantId: "agent-7",
    audio: btoa(String.fromCharCode(...bytes)),
    format: "audio/PCMU",
    sampleRate: 8000,
    sequenceNumber,
    timestamp: new Date().toISOString(),
  });
}

async function until(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await sleep(50);
  return predicate();
}

describe("review of the call's core", () => {
  it("takes a new media-api connection for a stream whose storage was purged by this same object", async () => {
    const conversationId = crypto.randomUUID();
    const name = `media-api:${conversationId}:agent-7`;
    const first = await mediaApiUpgrade(conversationId);
    expect(first.status).toBe(101);
    const ws = first.webSocket as WebSocket;
    ws.accept();
    ws.close(1000);
    await sleep(200);
    // Retention, then the downstream session's end and the grace before the purge.
    expect(await alarmAfter(name, 6 * 60_000)).toBe(true);
    expect(await alarmAfter(name, 7 * 60_000)).toBe(true);
    const purged = await runInDurableObject(
      stubFor(name),
      (o) => (o as unknown as { record: unknown }).record,
    );
    expect(purged).toBeNull();
    // The same participant streams again later: a new stream in the same (still loaded) object.
    const again = await mediaApiUpgrade(conversationId);
    expect(again.status).toBe(101);
    again.webSocket?.accept();
    again.webSocket?.close(1000);
  });

  it("ignores a continued session that names the call itself", async () => {
    const client = await GenesysClient.connect();
    client.open({ continuedSessions: [{ id: client.sessionId, serverseq: 0, clientseq: 0 }] });
    await client.expect("opened");
    client.sendAudio(pcmuStereo(100), 800);
    client.send("ping");
    await client.expect("pong", 5000);
    client.send("close", { reason: "end" });
    for (;;) {
      const item = await client.next(5000);
      if (item.kind === "close") throw new Error(`closed early: ${item.code} ${item.reason}`);
      expect(item.message.type).not.toBe("disconnect");
      if (item.message.type === "closed") break;
    }
  }, 45_000);

  it("tells a media-api client that reconnects to a stream whose forwarding stopped, instead of dropping its audio", async () => {
    const conversationId = crypto.randomUUID();
    const name = `media-api:${conversationId}:agent-7`;
    await injectFault({ kind: "unauthenticated", calls: 5, sessions: [name] });
    const first = await mediaApiUpgrade(conversationId);
    const ws1 = first.webSocket as WebSocket;
    ws1.accept();
    const one = collect(ws1);
    for (let seq = 0; seq < 3; seq++) ws1.send(mediaFrame(conversationId, seq));
    expect(await until(() => one.closed !== null, 5000)).toBe(true);
    expect(one.closed?.code).toBe(1011);
    await sleep(200);
    const again = await mediaApiUpgrade(conversationId);
    expect(again.status).toBe(101);
    const ws2 = again.webSocket as WebSocket;
    ws2.accept();
    const two = collect(ws2);
    for (let seq = 3; seq < 13; seq++) ws2.send(mediaFrame(conversationId, seq));
    await until(() => two.closed !== null, 3000);
    // Either the audio is delivered, or the client is told it is not: never taken and dropped in silence.
    const external = (await sessionStats(name))?.channels.EXTERNAL?.samples ?? 0;
    const told = two.closed?.code === 1011 && two.frames.some((f) => f.type === "error");
    expect(told || external >= 8000).toBe(true);
  });

  it("finishes and purges a call whose socket vanished after closed, before its close event (a restart)", async () => {
    const client = await GenesysClient.connect();
    client.open({});
    await client.expect("opened");
    client.send("close", { reason: "end" });
    await client.expect("closed");
    // A restart (a deploy) drops the socket before the grace period closed it: no close event comes.
    await runInDurableObject(stubFor(client.sessionId), (_o, state) => {
      (state as unknown as { abort(reason: string): void }).abort("service restart");
    }).catch(() => {});
    await sleep(200);
    await alarmAfter(client.sessionId, 61_000);
    await alarmAfter(client.sessionId, 122_000);
    await alarmAfter(client.sessionId, 8 * 60_000);
    const record = await runInDurableObject(
      stubFor(client.sessionId),
      (o) => (o as unknown as { record: unknown }).record,
    );
    expect(record).toBeNull();
  });

  it("keeps two calls that name each other as continued sessions alive (neither waits on the other for ever)", async () => {
    const a = await GenesysClient.connect();
    const b = await GenesysClient.connect();
    const conversationId = crypto.randomUUID();
    a.open({ conversationId, continuedSessions: [{ id: b.sessionId, serverseq: 0, clientseq: 0 }] });
    b.open({ conversationId, continuedSessions: [{ id: a.sessionId, serverseq: 0, clientseq: 0 }] });
    await a.expect("opened");
    await b.expect("opened");
    a.send("ping");
    b.send("ping");
    // Each is answered, or finished cleanly by the other: never reset by blockConcurrencyWhile (1006).
    for (const client of [a, b]) {
      const item = await client.next(15_000);
      if (item.kind === "close") expect(item.code).toBe(1000);
      else expect(item.message.type).toBe("pong");
    }
  }, 40_000);
});
