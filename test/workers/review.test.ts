// Defects found in review of the call's core: each test failed before its fix.

import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { GenesysClient, pcmuStereo } from "./genesys-client";

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
});
