// Routing and authentication before the upgrade: every refusal is an HTTP answer, no object is created.

import { env, listDurableObjectIds, SELF } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { DEV_API_KEY, GenesysClient, UNSIGNED_API_KEY, upgrade, upgradeHeaders } from "./genesys-client";

async function objectCount(): Promise<number> {
  return (await listDurableObjectIds(env.CALL_SESSION)).length;
}

describe("routing", () => {
  it("serves /healthz", async () => {
    const response = await SELF.fetch("https://audiohook.test/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok" });
  });

  it("answers 404 elsewhere and 426 for a plain request on a WebSocket path", async () => {
    expect((await SELF.fetch("https://audiohook.test/nope")).status).toBe(404);
    for (const path of ["/api/v1/audiohook/ws", "/api/v1/voicetranscription/ws"]) {
      const response = await SELF.fetch(`https://audiohook.test${path}`);
      expect(response.status).toBe(426);
      expect(response.headers.get("upgrade")).toBe("websocket");
    }
  });
});

describe("authentication before the upgrade", () => {
  // An API key one character off the published one: an attacker probing which keys exist.
  const nearKey = `${DEV_API_KEY.slice(0, -1)}i`;
  const cases: [string, Parameters<typeof upgrade>[0]][] = [
    ["no API key", { omit: ["x-api-key"] }],
    ["an unknown API key", { apiKey: "bm90LWEta25vd24ta2V5LWF0LWFsbA" }],
    ["no signature for a key that has a secret", { secret: null }],
    ["no signature for an unknown key", { apiKey: nearKey, secret: null }],
    ["a garbage signature", { extraHeaders: { signature: "sig1=:!!!:" } }],
    [
      "a garbage signature for an unknown key",
      { apiKey: nearKey, extraHeaders: { signature: "sig1=:!!!:" } },
    ],
    ["a signature made with the wrong secret", { secret: btoa("the wrong secret, 32 bytes long!!") }],
    ["a stale signature", { created: Math.floor(Date.now() / 1000) - 120 }],
    ["a signature from the future", { created: Math.floor(Date.now() / 1000) + 120 }],
    ["an expired signature", { expires: Math.floor(Date.now() / 1000) - 60 }],
    ["a short nonce", { nonce: "tooShort" }],
  ];
  for (const [name, options] of cases) {
    it(`refuses ${name} with 401 and the one shared body after the minimum delay, creating no object`, async () => {
      const before = await objectCount();
      const started = Date.now();
      const response = await upgrade(options);
      expect(response.status).toBe(401);
      // The same text whatever the cause: it must not tell an existing key from an unknown one.
      expect(await response.text()).toBe("unauthorized\n");
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      expect(await objectCount()).toBe(before);
    });
  }

  it("refuses a tampered signed header", async () => {
    const { url, headers } = await upgradeHeaders();
    headers.set("audiohook-correlation-id", crypto.randomUUID());
    const response = await SELF.fetch(url, { headers });
    expect(response.status).toBe(401);
  });

  it("refuses a replayed signature (same nonce) while it is still fresh", async () => {
    const { url, headers } = await upgradeHeaders();
    const first = await SELF.fetch(url, { headers });
    expect(first.status).toBe(101);
    first.webSocket?.accept();
    const replay = await SELF.fetch(url, { headers });
    expect(replay.status).toBe(401);
    expect(await replay.text()).toBe("unauthorized\n");
    first.webSocket?.close(1000);
  });

  it("accepts an unsigned upgrade only for a key configured without a secret", async () => {
    const client = await GenesysClient.connect({ apiKey: UNSIGNED_API_KEY, secret: null });
    client.open();
    await client.expect("opened");
    expect((await upgrade({ apiKey: DEV_API_KEY, secret: null })).status).toBe(401);
  });

  it("answers 409 for a session id in use, after the minimum delay like every refusal", async () => {
    const sessionId = crypto.randomUUID();
    const first = await upgrade({ sessionId });
    expect(first.status).toBe(101);
    first.webSocket?.accept();
    const started = Date.now();
    const second = await upgrade({ sessionId });
    expect(second.status).toBe(409);
    expect(await second.text()).toMatch(/already used/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    first.webSocket?.close(1000);
  });

  it("answers 400 for missing or malformed id headers, after the minimum delay too", async () => {
    for (const options of [
      { omit: ["audiohook-session-id"] },
      { omit: ["audiohook-organization-id"] },
      { sessionId: "not-a-uuid" },
    ]) {
      const started = Date.now();
      const response = await upgrade(options);
      expect(response.status).toBe(400);
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      if (options.sessionId) expect(await response.text()).toMatch(/audiohook-session-id must be a UUID/);
    }
  });
});

describe("media-api refusals", () => {
  const secret = new TextEncoder().encode("langhook-development-media-api-secret-0123456789");
  const mediaUpgrade = (headers: Record<string, string>, query = "conversationId=c-1&participantId=p-1") =>
    SELF.fetch(`https://langhook.test/media-api?${query}`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": "media-api", ...headers },
    });

  it("answers every 401 with the one shared body, whatever was wrong with the token", async () => {
    const forged = await new SignJWT({ scope: "media:websocket:read" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("some-other-secret-that-is-long-enough-to-use"));
    const expired = await new SignJWT({ scope: "media:websocket:read" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(secret);
    for (const authorization of [
      undefined,
      "Basic abc",
      "Bearer not.a.jwt",
      `Bearer ${forged}`,
      `Bearer ${expired}`,
    ]) {
      const started = Date.now();
      const response = await mediaUpgrade(authorization === undefined ? {} : { authorization });
      expect(response.status).toBe(401);
      expect(await response.text()).toBe("unauthorized\n");
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    }
  });

  it("answers 400s after the minimum delay too", async () => {
    const token = await new SignJWT({ scope: "media:websocket:read" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(secret);
    for (const [headers, query] of [
      [{ "sec-websocket-protocol": "chat" }, undefined],
      [{}, "conversationId=c-1&participantId=p-1&language=english"],
    ] as const) {
      const started = Date.now();
      const response = await mediaUpgrade({ authorization: `Bearer ${token}`, ...headers }, query);
      expect(response.status).toBe(400);
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    }
  });
});
