// Routing and authentication before the upgrade: every refusal is an HTTP answer, no object is created.

import { env, listDurableObjectIds, SELF } from "cloudflare:test";
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
  const cases: [string, Parameters<typeof upgrade>[0], RegExp][] = [
    ["no API key", { omit: ["x-api-key"] }, /missing x-api-key/],
    ["an unknown API key", { apiKey: "bm90LWEta25vd24ta2V5LWF0LWFsbA" }, /invalid credentials/],
    ["no signature for a key that has a secret", { secret: null }, /signature required/],
    [
      "a signature made with the wrong secret",
      { secret: btoa("the wrong secret, 32 bytes long!!") },
      /invalid credentials/,
    ],
    ["a stale signature", { created: Math.floor(Date.now() / 1000) - 120 }, /expired/],
    ["a signature from the future", { created: Math.floor(Date.now() / 1000) + 120 }, /not yet valid/],
    ["an expired signature", { expires: Math.floor(Date.now() / 1000) - 60 }, /expired/],
    ["a short nonce", { nonce: "tooShort" }, /malformed signature/],
  ];
  for (const [name, options, reason] of cases) {
    it(`refuses ${name} with 401 after the minimum delay, creating no object`, async () => {
      const before = await objectCount();
      const started = Date.now();
      const response = await upgrade(options);
      expect(response.status).toBe(401);
      expect(await response.text()).toMatch(reason);
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
    expect(await replay.text()).toMatch(/replayed/);
    first.webSocket?.close(1000);
  });

  it("accepts an unsigned upgrade only for a key configured without a secret", async () => {
    const client = await GenesysClient.connect({ apiKey: UNSIGNED_API_KEY, secret: null });
    client.open();
    await client.expect("opened");
    expect((await upgrade({ apiKey: DEV_API_KEY, secret: null })).status).toBe(401);
  });

  it("answers 400 for missing or malformed id headers", async () => {
    expect((await upgrade({ omit: ["audiohook-session-id"] })).status).toBe(400);
    expect((await upgrade({ omit: ["audiohook-organization-id"] })).status).toBe(400);
    const bad = await upgrade({ sessionId: "not-a-uuid" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/audiohook-session-id must be a UUID/);
  });
});
