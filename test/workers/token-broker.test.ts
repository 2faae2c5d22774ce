// The shared token cache against a real OAuth endpoint on loopback: many callers, one token request.

import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { TOKEN_BROKER_NAME } from "../../src/auth/TokenBroker";

async function tokenRequests(): Promise<number> {
  const stats = (await (
    await fetch((env as unknown as { OAUTH_STATS_URL: string }).OAUTH_STATS_URL)
  ).json()) as {
    requests: number;
  };
  return stats.requests;
}

describe("TokenBroker", () => {
  it("gives 100 concurrent callers one token from one request, and keeps it across eviction", async () => {
    const before = await tokenRequests();
    const broker = env.TOKEN_BROKER.get(env.TOKEN_BROKER.idFromName(TOKEN_BROKER_NAME));
    const answers = await Promise.all(Array.from({ length: 100 }, () => broker.token()));
    const tokens = new Set(answers.map((a) => (a.ok ? a.token : a.code)));
    expect(tokens.size).toBe(1);
    expect([...tokens][0]).toMatch(/^token-\d+$/);
    expect(await tokenRequests()).toBe(before + 1);

    await evictDurableObject(broker);
    const again = await broker.token();
    expect(again.ok && again.token).toBe([...tokens][0]);
    expect(await tokenRequests()).toBe(before + 1);
  });

  it("fetches a new token after the service refused the old one", async () => {
    const broker = env.TOKEN_BROKER.get(env.TOKEN_BROKER.idFromName(`${TOKEN_BROKER_NAME}-invalidate`));
    const first = await broker.token();
    await broker.invalidate();
    const second = await broker.token();
    expect(first.ok && second.ok).toBe(true);
    expect(first.ok && second.ok && first.token !== second.token).toBe(true);
  });
});
