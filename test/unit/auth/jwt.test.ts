import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createJwtVerifier,
  DEFAULT_REQUIRED_SCOPE,
  grantedScopes,
  type JwtCheck,
  JwtConfigError,
  parseBearer,
  wwwAuthenticate,
} from "../../../src/auth/jwt";

const SECRET = "0123456789abcdef0123456789abcdef-shared";
const NOW = Date.UTC(2026, 0, 1) / 1000; // seconds, as JWT times are
const now = () => NOW * 1000;

function hs256(claims: JWTPayload, secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

const valid: JWTPayload = {
  sub: "client-1",
  iss: "https://idp.example",
  aud: "langhook",
  iat: NOW - 10,
  exp: NOW + 300,
  scope: `openid ${DEFAULT_REQUIRED_SCOPE}`,
};

const verifier = createJwtVerifier({
  secret: SECRET,
  issuer: "https://idp.example",
  audience: "langhook",
  now,
});

function expectFailure(check: JwtCheck, status: number, code: string): void {
  expect(check).toMatchObject({ ok: false, status, code });
}

describe("parseBearer", () => {
  it("takes the token from `Bearer <token>`, scheme case-insensitive", () => {
    expect(parseBearer("Bearer abc.def.ghi")).toEqual({ ok: true, token: "abc.def.ghi" });
    expect(parseBearer("bearer  abc ")).toEqual({ ok: true, token: "abc" });
  });

  it("tells a missing header from a malformed one", () => {
    for (const header of [undefined, null, "", "   "]) {
      expect(parseBearer(header)).toMatchObject({ ok: false, code: "ERR_AUTH_MISSING" });
    }
    for (const header of ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "Bearerabc"]) {
      expect(parseBearer(header)).toMatchObject({ ok: false, code: "ERR_AUTH_MALFORMED" });
    }
  });
});

describe("HS256 verifier", () => {
  it("accepts a valid token and returns its claims and scopes", async () => {
    const check = await verifier.verifyAuthorization(`Bearer ${await hs256(valid)}`);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.claims.sub).toBe("client-1");
    expect(check.scopes).toEqual(["openid", DEFAULT_REQUIRED_SCOPE]);
  });

  it("accepts the scope in `scp`, as an array or a string", async () => {
    const { scope: _, ...noScope } = valid;
    for (const scp of [[DEFAULT_REQUIRED_SCOPE], `x ${DEFAULT_REQUIRED_SCOPE}`]) {
      const check = await verifier.verifyToken(await hs256({ ...noScope, scp }));
      expect(check.ok).toBe(true);
    }
  });

  it("401 ERR_AUTH_MISSING without a header", async () => {
    expectFailure(await verifier.verifyAuthorization(undefined), 401, "ERR_AUTH_MISSING");
  });

  it("401 ERR_AUTH_MALFORMED for a non-bearer header or a non-JWT token", async () => {
    expectFailure(await verifier.verifyAuthorization("Basic dXNlcjpwdw=="), 401, "ERR_AUTH_MALFORMED");
    expectFailure(await verifier.verifyAuthorization("Bearer not-a-jwt"), 401, "ERR_AUTH_MALFORMED");
    expectFailure(await verifier.verifyAuthorization("Bearer aaa.bbb.ccc"), 401, "ERR_AUTH_MALFORMED");
  });

  it("401 ERR_AUTH_BAD_SIGNATURE for a token signed with another secret", async () => {
    const forged = await hs256(valid, "another-secret-that-is-long-enough-too");
    expectFailure(await verifier.verifyToken(forged), 401, "ERR_AUTH_BAD_SIGNATURE");
  });

  it("401 ERR_AUTH_BAD_SIGNATURE for an unsigned (alg none) token", async () => {
    const [, payload] = (await hs256(valid)).split(".");
    const header = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");
    expectFailure(await verifier.verifyToken(`${header}.${payload}.`), 401, "ERR_AUTH_BAD_SIGNATURE");
  });

  it("401 ERR_AUTH_EXPIRED past the clock skew, accepted within it", async () => {
    expectFailure(
      await verifier.verifyToken(await hs256({ ...valid, exp: NOW - 31 })),
      401,
      "ERR_AUTH_EXPIRED",
    );
    expect((await verifier.verifyToken(await hs256({ ...valid, exp: NOW - 29 }))).ok).toBe(true);
    const strict = createJwtVerifier({ secret: SECRET, clockSkewSec: 0, now });
    expectFailure(await strict.verifyToken(await hs256({ ...valid, exp: NOW - 1 })), 401, "ERR_AUTH_EXPIRED");
  });

  it("401 ERR_AUTH_CLAIM for a wrong audience, a wrong issuer, or no exp", async () => {
    const wrongAud = await verifier.verifyToken(await hs256({ ...valid, aud: "someone-else" }));
    expect(wrongAud).toEqual({
      ok: false,
      status: 401,
      code: "ERR_AUTH_CLAIM",
      reason: "token claim aud rejected",
    });
    const wrongIss = await verifier.verifyToken(await hs256({ ...valid, iss: "https://evil.example" }));
    expectFailure(wrongIss, 401, "ERR_AUTH_CLAIM");
    const { exp: _, ...noExp } = valid;
    expectFailure(await verifier.verifyToken(await hs256(noExp)), 401, "ERR_AUTH_CLAIM");
  });

  it("checks issuer and audience only when configured", async () => {
    const open = createJwtVerifier({ secret: SECRET, now });
    expect((await open.verifyToken(await hs256({ ...valid, aud: "x", iss: "y" }))).ok).toBe(true);
  });

  it("403 ERR_AUTH_INSUFFICIENT_SCOPE for a valid token without the scope", async () => {
    const check = await verifier.verifyToken(
      await hs256({ ...valid, scope: "openid media:websocket:write" }),
    );
    expect(check).toEqual({
      ok: false,
      status: 403,
      code: "ERR_AUTH_INSUFFICIENT_SCOPE",
      reason: `token lacks scope ${DEFAULT_REQUIRED_SCOPE}`,
    });
    const none = createJwtVerifier({ secret: SECRET, requiredScopes: [], now });
    expect((await none.verifyToken(await hs256({ ...valid, scope: undefined }))).ok).toBe(true);
  });

  it("never puts the token or the secret in a reason", async () => {
    const token = await hs256({ ...valid, aud: "x" });
    const checks = [
      await verifier.verifyToken(token),
      await verifier.verifyToken(await hs256(valid, `${SECRET}-other`)),
      await verifier.verifyAuthorization(`Bearer ${token}x`),
    ];
    for (const check of checks) {
      expect(check.ok).toBe(false);
      if (check.ok) continue;
      expect(check.reason).not.toContain(token.slice(0, 20));
      expect(check.reason).not.toContain(SECRET);
      expect(check.reason.length).toBeLessThan(60);
    }
  });

  it("refuses a secret shorter than 32 bytes", () => {
    expect(() => createJwtVerifier({ secret: "short" })).toThrow(JwtConfigError);
  });
});

describe("JWKS verifier against a local JWKS server", () => {
  let url: string;
  let keys: JWK[] = [];
  let status = 200;
  let requests = 0;
  let close: () => Promise<void>;
  const signers = new Map<string, CryptoKey>();

  async function addKey(kid: string): Promise<JWK> {
    const pair = await generateKeyPair("ES256");
    signers.set(kid, pair.privateKey);
    return { ...(await exportJWK(pair.publicKey)), kid, alg: "ES256", use: "sig" };
  }

  async function es256(kid: string, claims: JWTPayload = valid): Promise<string> {
    const key = signers.get(kid) ?? (await generateKeyPair("ES256")).privateKey;
    return new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid }).sign(key);
  }

  beforeAll(async () => {
    keys = [await addKey("k1")];
    const server = createServer((_req, res) => {
      requests += 1;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  it("verifies with the fetched keys, fetches once, and refetches on an unknown kid", async () => {
    requests = 0;
    const jwks = createJwtVerifier({ jwksUrl: url, audience: "langhook", jwksCooldownMs: 0, now });
    expect((await jwks.verifyToken(await es256("k1"))).ok).toBe(true);
    expect((await jwks.verifyToken(await es256("k1"))).ok).toBe(true);
    expect(requests).toBe(1);

    // The provider rotates in a new key: a token signed with it makes the verifier refetch.
    keys = [...keys, await addKey("k2")];
    expect((await jwks.verifyToken(await es256("k2"))).ok).toBe(true);
    expect(requests).toBe(2);

    // A kid nobody publishes: one more fetch, then a 401.
    expectFailure(await jwks.verifyToken(await es256("k-unknown")), 401, "ERR_AUTH_BAD_SIGNATURE");
    expect(requests).toBe(3);
  });

  it("does not refetch on an unknown kid within the cooldown", async () => {
    requests = 0;
    const jwks = createJwtVerifier({ jwksUrl: url, now });
    expect((await jwks.verifyToken(await es256("k1"))).ok).toBe(true);
    expectFailure(await jwks.verifyToken(await es256("k-unknown")), 401, "ERR_AUTH_BAD_SIGNATURE");
    expect(requests).toBe(1);
  });

  it("uses an injected fetch", async () => {
    const seen: string[] = [];
    const jwks = createJwtVerifier({
      jwksUrl: url,
      now,
      fetch: (input, init) => {
        seen.push(String(input));
        return fetch(input, init);
      },
    });
    expect((await jwks.verifyToken(await es256("k1"))).ok).toBe(true);
    expect(seen).toEqual([url]);
  });

  it("rejects an HS256 token (alg confusion) and applies the same claim checks", async () => {
    const jwks = createJwtVerifier({ jwksUrl: url, audience: "langhook", now });
    expectFailure(await jwks.verifyToken(await hs256(valid)), 401, "ERR_AUTH_BAD_SIGNATURE");
    expectFailure(
      await jwks.verifyToken(await es256("k1", { ...valid, exp: NOW - 60 })),
      401,
      "ERR_AUTH_EXPIRED",
    );
    expectFailure(
      await jwks.verifyToken(await es256("k1", { ...valid, scope: "" })),
      403,
      "ERR_AUTH_INSUFFICIENT_SCOPE",
    );
  });

  it("503 ERR_AUTH_KEYS_UNAVAILABLE when the JWKS cannot be fetched", async () => {
    status = 500;
    try {
      const jwks = createJwtVerifier({ jwksUrl: url, now });
      expectFailure(await jwks.verifyToken(await es256("k1")), 503, "ERR_AUTH_KEYS_UNAVAILABLE");
    } finally {
      status = 200;
    }
    const unreachable = createJwtVerifier({ jwksUrl: "http://127.0.0.1:1/jwks.json", now });
    expectFailure(await unreachable.verifyToken(await es256("k1")), 503, "ERR_AUTH_KEYS_UNAVAILABLE");
  });
});

describe("helpers", () => {
  it("grantedScopes merges scope and scp, ignoring junk", () => {
    expect(grantedScopes({ scope: "a  b", scp: ["c", 3, ""] })).toEqual(["a", "b", "c"]);
    expect(grantedScopes({ scope: 7 })).toEqual([]);
  });

  it("wwwAuthenticate follows RFC 6750", () => {
    const failure = (code: Extract<JwtCheck, { ok: false }>["code"], status: 401 | 403 = 401) =>
      ({ ok: false, status, code, reason: "" }) as const;
    expect(wwwAuthenticate(failure("ERR_AUTH_MISSING"))).toBe("Bearer");
    expect(wwwAuthenticate(failure("ERR_AUTH_EXPIRED"))).toBe('Bearer error="invalid_token"');
    expect(wwwAuthenticate(failure("ERR_AUTH_INSUFFICIENT_SCOPE", 403), [DEFAULT_REQUIRED_SCOPE])).toBe(
      `Bearer error="insufficient_scope", scope="${DEFAULT_REQUIRED_SCOPE}"`,
    );
  });
});
