// Signature verification against the published documentation vector and vectors computed here
// independently with node:crypto (not with the module under test).

import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type ApiCredential,
  authenticateUpgrade,
  constantTimeEqual,
  type UpgradeRequest,
} from "../../../src/audiohook/signature";

const API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
const SECRET = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
const CREDS: ApiCredential[] = [{ apiKey: API_KEY, secret: SECRET }];
const HEADERS = {
  "audiohook-organization-id": "d7934305-0972-4844-938e-9060eef73d05",
  "audiohook-session-id": "30b0e395-84d3-4570-ac13-9a62d8f514c0",
  "audiohook-correlation-id": "e160e428-53e2-487c-977d-96989bf5c99d",
  "x-api-key": API_KEY,
};
const COMPONENTS = `("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" "audiohook-correlation-id" "x-api-key")`;

function request(headers: Record<string, string>, target = "/api/v1/voicebiometrics/ws"): UpgradeRequest {
  return { target, authority: "audiohook.example.com", header: (n) => headers[n] ?? null };
}

/** Signs the way the protocol page describes, with Node's HMAC: an implementation independent of ours. */
function sign(
  params: string,
  secret = SECRET,
  target = "/api/v1/voicebiometrics/ws",
  headers = HEADERS,
): string {
  const base = [
    `"@request-target": ${target}`,
    `"@authority": audiohook.example.com`,
    ...Object.entries(headers).map(([k, v]) => `"${k}": ${v}`),
    `"@signature-params": ${params}`,
  ].join("\n");
  return createHmac("sha256", Buffer.from(secret, "base64")).update(base).digest("base64");
}

const NOW = 1_700_000_000;
function signed(
  extra: Partial<{ nonce: string; created: number; expires: number; keyid: string; secret: string }> = {},
) {
  const params = `${COMPONENTS};keyid="${extra.keyid ?? API_KEY}";nonce="${extra.nonce ?? "aUniqueNonceOfEnoughLength"}";alg="hmac-sha256";created=${extra.created ?? NOW};expires=${extra.expires ?? NOW + 10}`;
  return {
    ...HEADERS,
    "signature-input": `sig1=${params}`,
    signature: `sig1=:${sign(params, extra.secret)}:`,
  };
}

describe("HTTP message signature", () => {
  it("verifies the published documentation vector", async () => {
    const params = `${COMPONENTS};keyid="${API_KEY}";nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";alg="hmac-sha256";created=1641013200;expires=3282026430`;
    // Our independent signer reproduces the published signature, so the vector and the base agree.
    expect(sign(params)).toBe("NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=");
    const headers = {
      ...HEADERS,
      "signature-input": `sig1=${params}`,
      signature: "sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:",
    };
    const result = await authenticateUpgrade(request(headers), CREDS, 1641013203);
    expect(result).toEqual({
      ok: true,
      apiKey: API_KEY,
      nonce: { value: "VGhpc0lzQVVuaXF1ZU5vbmNl", expiresAt: 1641013200 + 10 + 5 },
    });
  });

  it("accepts a fresh vector signed here", async () => {
    expect((await authenticateUpgrade(request(signed()), CREDS, NOW + 2)).ok).toBe(true);
  });

  it("accepts either secret while one is being rotated", async () => {
    const rotated = btoa("a brand new client secret, 32 b!");
    const creds = [...CREDS, { apiKey: API_KEY, secret: rotated }];
    expect((await authenticateUpgrade(request(signed({ secret: rotated })), creds, NOW)).ok).toBe(true);
    expect((await authenticateUpgrade(request(signed()), creds, NOW)).ok).toBe(true);
    expect((await authenticateUpgrade(request(signed({ secret: rotated })), CREDS, NOW)).ok).toBe(false);
  });

  const refusals: [string, Record<string, string>, number, string][] = [
    ["wrong secret", signed({ secret: btoa("another secret entirely, 32 b!!") }), NOW, "bad-signature"],
    [
      "tampered header",
      { ...signed(), "audiohook-session-id": "30b0e395-84d3-4570-ac13-9a62d8f514c1" },
      NOW,
      "bad-signature",
    ],
    ["keyid not the api key", signed({ keyid: "someoneElse" }), NOW, "keyid-mismatch"],
    ["short nonce", signed({ nonce: "short" }), NOW, "bad-nonce"],
    ["too old", signed(), NOW + 16, "signature-expired"],
    ["from the future", signed({ created: NOW + 60 }), NOW, "signature-not-yet-valid"],
    ["expired", signed({ expires: NOW - 10 }), NOW, "signature-expired"],
    ["no signature", HEADERS, NOW, "signature-required"],
    ["unparseable", { ...signed(), "signature-input": "sig1=(((" }, NOW, "malformed-signature"],
    ["unknown key", { ...signed(), "x-api-key": "unknown" }, NOW, "unknown-api-key"],
  ];
  for (const [name, headers, now, code] of refusals) {
    it(`refuses: ${name}`, async () => {
      const result = await authenticateUpgrade(request(headers), CREDS, now);
      expect(result).toMatchObject({ ok: false, code });
    });
  }

  it("refuses a signature that leaves out a required component", async () => {
    const params = `("@request-target" "@authority" "x-api-key");keyid="${API_KEY}";nonce="aUniqueNonceOfEnoughLength";created=${NOW};expires=${NOW + 10}`;
    const headers = { ...HEADERS, "signature-input": `sig1=${params}`, signature: `sig1=:${sign(params)}:` };
    expect(await authenticateUpgrade(request(headers), CREDS, NOW)).toMatchObject({
      ok: false,
      code: "missing-components",
    });
  });

  it("accepts an unsigned upgrade only for a key configured with an empty secret", async () => {
    const open = [{ apiKey: "unsignedKey", secret: "" }, ...CREDS];
    expect(await authenticateUpgrade(request({ ...HEADERS, "x-api-key": "unsignedKey" }), open, NOW)).toEqual(
      {
        ok: true,
        apiKey: "unsignedKey",
      },
    );
    expect((await authenticateUpgrade(request(HEADERS), open, NOW)).ok).toBe(false);
  });

  it("a refusal carries only its code (for the log), no text for the client to tell causes apart", async () => {
    const a = await authenticateUpgrade(request({ ...signed(), "x-api-key": "unknown" }), CREDS, NOW);
    const b = await authenticateUpgrade(request(signed({ secret: btoa("wrong") })), CREDS, NOW);
    expect(a).toEqual({ ok: false, code: "unknown-api-key" });
    expect(b).toEqual({ ok: false, code: "bad-signature" });
  });

  it("compares in constant time over unequal lengths too", () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
  });
});
