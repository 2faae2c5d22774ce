import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  parseRetryAfter,
  refreshAt,
  TokenError,
  TokenManager,
  type TokenManagerOptions,
} from "../../../src/auth/token-manager";
import { type OAuthServer, startOAuthServer } from "../../support/oauth-server";

const SECRET = "s3cr3t:with spaces&symbols";
const T0 = Date.UTC(2026, 0, 1);

let server: OAuthServer;
let clock: number;
let sleeps: number[];

beforeEach(async () => {
  server = await startOAuthServer();
  clock = T0;
  sleeps = [];
});
afterEach(() => server.close());

/** A TokenManager on the local server whose sleeps record the delay and advance the clock instantly. */
function manager(overrides: Partial<TokenManagerOptions> = {}): TokenManager {
  return new TokenManager({
    tokenUrl: server.url,
    clientId: "langhook",
    clientSecret: SECRET,
    scope: "transcribe",
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    random: () => 0.5,
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<TokenError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenError);
  return error as TokenError;
}

describe("TokenManager request", () => {
  it("posts a form-encoded client_credentials grant with HTTP Basic client auth", async () => {
    expect(await manager().getToken()).toBe("token-1");
    const [req] = server.requests;
    expect(req?.method).toBe("POST");
    expect(req?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(req?.form.get("grant_type")).toBe("client_credentials");
    expect(req?.form.get("scope")).toBe("transcribe");
    expect(req?.form.has("client_secret")).toBe(false);
    const basic = Buffer.from(String(req?.headers.authorization).replace(/^Basic /, ""), "base64").toString();
    const [id, secret] = basic.split(":").map((part: string) => new URLSearchParams(`x=${part}`).get("x"));
    expect([id, secret]).toEqual(["langhook", SECRET]);
  });

  it("can send the client credentials in the body instead", async () => {
    await manager({ clientAuth: "body", scope: undefined }).getToken();
    const [req] = server.requests;
    expect(req?.headers.authorization).toBeUndefined();
    expect(req?.form.get("client_id")).toBe("langhook");
    expect(req?.form.get("client_secret")).toBe(SECRET);
    expect(req?.form.has("scope")).toBe(false);
  });
});

describe("TokenManager caching", () => {
  it("makes exactly one token request for 100 concurrent callers", async () => {
    const tokens = manager();
    const results = await Promise.all(Array.from({ length: 100 }, () => tokens.getToken()));
    expect(new Set(results)).toEqual(new Set(["token-1"]));
    expect(server.requests).toHaveLength(1);
    await tokens.getToken();
    expect(server.requests).toHaveLength(1);
  });

  it("refreshes an expiring token before it expires, without making callers wait", async () => {
    const background: Promise<unknown>[] = [];
    const tokens = manager({ waitUntil: (work) => background.push(work) });
    expect(await tokens.getToken()).toBe("token-1");
    // 3600 s lifetime: refresh at min(55 min, 48 min) = 48 min after issue.
    const due = T0 + 48 * 60_000;
    expect(refreshAt({ issuedAt: T0, expiresAt: T0 + 3_600_000 })).toBe(due);

    clock = due - 1;
    expect(await tokens.getToken()).toBe("token-1");
    expect(server.requests).toHaveLength(1);

    clock = due;
    expect(await tokens.getToken()).toBe("token-1"); // still valid: served while the refresh runs
    expect(background).toHaveLength(1);
    await Promise.all(background);
    expect(server.requests).toHaveLength(2);
    expect(await tokens.getToken()).toBe("token-2");
    expect(clock).toBeLessThan(T0 + 3_600_000);
  });

  it("fetches in the foreground once the cached token has expired", async () => {
    const tokens = manager();
    await tokens.getToken();
    clock = T0 + 3_600_000;
    expect(await tokens.getToken()).toBe("token-2");
    expect(server.requests).toHaveLength(2);
  });

  it("keeps serving a valid token when a background refresh fails, and pauses before retrying", async () => {
    const background: Promise<unknown>[] = [];
    const tokens = manager({ waitUntil: (work) => background.push(work), refreshCooldownMs: 60_000 });
    await tokens.getToken();
    clock = T0 + 50 * 60_000;
    server.script({ status: 401, body: { error: "invalid_client" } });
    expect(await tokens.getToken()).toBe("token-1");
    await Promise.all(background);
    expect(tokens.lastBackgroundError?.code).toBe("ERR_OAUTH_INVALID_CLIENT");
    expect(await tokens.getToken()).toBe("token-1"); // within the cooldown: no new request
    expect(server.requests).toHaveLength(2);
    clock += 60_000;
    await tokens.getToken();
    await Promise.all(background);
    expect(await tokens.getToken()).toBe("token-2");
    expect(tokens.lastBackgroundError).toBeUndefined();
  });

  it("refetches after invalidate()", async () => {
    const tokens = manager();
    await tokens.getToken();
    tokens.invalidate();
    expect(await tokens.getToken()).toBe("token-2");
  });

  it("does not refetch after a restore from a JSON snapshot", async () => {
    const persisted: string[] = [];
    const first = manager({ onToken: (snapshot) => void persisted.push(JSON.stringify(snapshot)) });
    await first.getToken();
    expect(persisted).toHaveLength(1);
    expect(persisted[0]).not.toContain(SECRET);
    expect(JSON.parse(persisted[0] ?? "")).toEqual(first.snapshot());

    clock += 10 * 60_000; // the Durable Object restarts ten minutes later
    const second = manager();
    expect(second.restore(JSON.parse(persisted[0] ?? ""))).toBe("restored");
    expect(await second.getToken()).toBe("token-1");
    expect(server.requests).toHaveLength(1);
  });

  it("refuses snapshots that are malformed, expired or for another client", async () => {
    const first = manager();
    await first.getToken();
    const snapshot = first.snapshot();
    expect(manager({ clientId: "someone-else" }).restore(snapshot)).toBe("other-client");
    expect(manager({ scope: "other" }).restore(snapshot)).toBe("other-client");
    expect(manager().restore({ ...snapshot, expiresAt: "soon" })).toBe("malformed");
    expect(manager().restore(null)).toBe("malformed");
    clock = T0 + 3_600_000;
    expect(manager().restore(snapshot)).toBe("expired");
  });
});

describe("TokenManager retries", () => {
  it("honours Retry-After on 429 and then succeeds", async () => {
    server.script({ status: 429, headers: { "retry-after": "1" }, body: { error: "slow_down" } });
    expect(await manager().getToken()).toBe("token-1");
    expect(sleeps).toEqual([1000]);
    expect(server.requests).toHaveLength(2);
  });

  it("retries a 500 after a full-jitter backoff", async () => {
    server.script({ status: 500 }, { status: 503 });
    expect(await manager({ random: () => 0.5 }).getToken()).toBe("token-1");
    // random() * min(max, 250 * 2^(n-1)): 0.5 * 250, then 0.5 * 500.
    expect(sleeps).toEqual([125, 250]);
    expect(server.requests).toHaveLength(3);
  });

  it("retries a dropped connection", async () => {
    server.script({ status: 0, destroy: true });
    expect(await manager().getToken()).toBe("token-1");
    expect(server.requests).toHaveLength(2);
  });

  it("gives up after maxAttempts with ERR_OAUTH_UNAVAILABLE", async () => {
    server.script(...Array.from({ length: 10 }, () => ({ status: 502 })));
    const error = await rejection(manager({ retry: { maxAttempts: 3 } }).getToken());
    expect(error.code).toBe("ERR_OAUTH_UNAVAILABLE");
    expect(error.status).toBe(502);
    expect(error.attempts).toBe(3);
    expect(server.requests).toHaveLength(3);
  });

  it("does not start a wait that would overrun the total retry budget", async () => {
    server.script({ status: 429, headers: { "retry-after": "120" } });
    const error = await rejection(manager({ retry: { maxTotalMs: 30_000 } }).getToken());
    expect(error.code).toBe("ERR_OAUTH_UNAVAILABLE");
    expect(error.message).toContain("120 s");
    expect(sleeps).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it("lets callers that arrive after a failure start a fresh attempt", async () => {
    server.script({ status: 401 });
    const tokens = manager();
    await rejection(tokens.getToken());
    expect(await tokens.getToken()).toBe("token-1");
  });
});

describe("TokenManager rejections fail fast", () => {
  it("401: ERR_OAUTH_INVALID_CLIENT after one request, naming the cause, never the secret", async () => {
    server.script({
      status: 401,
      body: { error: "invalid_client", error_description: `Bad secret ${SECRET} for client` },
    });
    const error = await rejection(manager().getToken());
    expect(error.code).toBe("ERR_OAUTH_INVALID_CLIENT");
    expect(error.status).toBe(401);
    expect(error.oauthError).toBe("invalid_client");
    expect(error.message).toContain("client credentials rejected");
    expect(error.message).toContain('"langhook"');
    expect(error.message).toContain("invalid_client (Bad secret [redacted] for client)");
    expect(error.message).not.toContain(SECRET);
    expect(server.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("403: ERR_OAUTH_FORBIDDEN after one request", async () => {
    server.script({ status: 403, body: { error: "access_denied", error_description: "client disabled" } });
    const error = await rejection(manager().getToken());
    expect(error.code).toBe("ERR_OAUTH_FORBIDDEN");
    expect(error.message).toContain("not allowed");
    expect(error.message).toContain("access_denied (client disabled)");
    expect(server.requests).toHaveLength(1);
  });

  it("400 maps the OAuth error code", async () => {
    server.script(
      { status: 400, body: { error: "invalid_scope" } },
      { status: 400, body: { error: "invalid_client" } },
      { status: 400, body: { error: "unsupported_grant_type" } },
      { status: 404, body: "not here" },
    );
    const tokens = manager();
    expect((await rejection(tokens.getToken())).code).toBe("ERR_OAUTH_INVALID_SCOPE");
    expect((await rejection(tokens.getToken())).code).toBe("ERR_OAUTH_INVALID_CLIENT");
    expect((await rejection(tokens.getToken())).code).toBe("ERR_OAUTH_REJECTED");
    expect((await rejection(tokens.getToken())).code).toBe("ERR_OAUTH_REJECTED");
    expect(server.requests).toHaveLength(4);
  });

  it("a 200 without a usable token is ERR_OAUTH_BAD_RESPONSE", async () => {
    server.script(
      { status: 200, body: { token_type: "Bearer" } },
      { status: 200, body: { access_token: "x", expires_in: -1 } },
    );
    const tokens = manager();
    expect((await rejection(tokens.getToken())).code).toBe("ERR_OAUTH_BAD_RESPONSE");
    expect((await rejection(tokens.getToken())).code).toBe("ERR_OAUTH_BAD_RESPONSE");
  });
});

describe("token timing helpers", () => {
  it("refreshAt takes the earlier rule, floored at half the lifetime", () => {
    const at = (lifetimeSec: number) => refreshAt({ issuedAt: 0, expiresAt: lifetimeSec * 1000 }) / 1000;
    expect(at(3600)).toBe(2880); // 80% beats 55 min
    expect(at(7200)).toBe(5760); // 80% (96 min) beats 115 min
    expect(at(1200)).toBe(900); // 15 min (exp - 5 min) beats 16 min
    expect(at(300)).toBe(150); // exp - 5 min would be now: floored at half
  });

  it("parseRetryAfter reads seconds and HTTP-dates", () => {
    expect(parseRetryAfter("1", T0)).toBe(1000);
    expect(parseRetryAfter(new Date(T0 + 5000).toUTCString(), T0)).toBe(5000);
    expect(parseRetryAfter(new Date(T0 - 5000).toUTCString(), T0)).toBe(0);
    expect(parseRetryAfter("soon", T0)).toBeUndefined();
    expect(parseRetryAfter(null, T0)).toBeUndefined();
  });
});
