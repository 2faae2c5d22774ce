// Authentication of the AudioHook upgrade: API key plus an HTTP Message Signature (RFC 9421 style,
// hmac-sha256 keyed with the base64-decoded client secret). Pure apart from WebCrypto.

import { type InnerList, type Item, parseDictionary, serializeInnerList } from "structured-headers";

/** The components Genesys signs, in its order; every one must be covered. */
export const REQUIRED_COMPONENTS = [
  "@request-target",
  "@authority",
  "audiohook-organization-id",
  "audiohook-session-id",
  "audiohook-correlation-id",
  "x-api-key",
] as const;

export const MIN_NONCE_LENGTH = 22;

export interface ApiCredential {
  apiKey: string;
  /** Base64 client secret; empty means this key is accepted without a signature. */
  secret: string;
}

export interface UpgradeRequest {
  /** Path and query as sent (`@request-target`). */
  target: string;
  /** Host (and port) the client addressed (`@authority`). */
  authority: string;
  header(name: string): string | null;
}

export interface SignatureLimits {
  /** Oldest acceptable `created`, in seconds before now. */
  maxAgeSeconds: number;
  /** Clock difference tolerated between Genesys and us. */
  skewSeconds: number;
}

export const DEFAULT_SIGNATURE_LIMITS: SignatureLimits = { maxAgeSeconds: 10, skewSeconds: 5 };

export type AuthErrorCode =
  | "missing-api-key"
  | "unknown-api-key"
  | "signature-required"
  | "malformed-signature"
  | "missing-components"
  | "keyid-mismatch"
  | "unsupported-algorithm"
  | "bad-nonce"
  | "signature-not-yet-valid"
  | "signature-expired"
  | "bad-signature";

export type AuthResult =
  | {
      ok: true;
      apiKey: string;
      /** Present for signed requests: the caller must refuse a nonce seen before, until `expiresAt`. */
      nonce?: { value: string; expiresAt: number };
    }
  /**
   * The code names the precise cause and is for the log only: every refusal answers the client the same
   * body, so the answer cannot tell an attacker whether a key exists or how far a forgery got.
   */
  | { ok: false; code: AuthErrorCode };

function fail(code: AuthErrorCode): AuthResult {
  return { ok: false, code };
}

/** Equality whose time does not depend on where the inputs differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

const encoder = new TextEncoder();

function decodeBase64(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function isInnerList(value: Item | InnerList): value is InnerList {
  return Array.isArray(value[0]);
}

/** The RFC 9421 signature base: one `"name": value` line per component, then `@signature-params`. */
export function signatureBase(
  request: UpgradeRequest,
  components: readonly string[],
  params: string,
): string | null {
  const lines: string[] = [];
  for (const name of components) {
    let value: string | null;
    if (name === "@request-target") value = request.target;
    else if (name === "@authority") value = request.authority.toLowerCase();
    else if (name.startsWith("@")) return null;
    else value = request.header(name);
    if (value === null) return null;
    lines.push(`"${name}": ${value.trim()}`);
  }
  lines.push(`"@signature-params": ${params}`);
  return lines.join("\n");
}

export async function hmacSha256(secret: Uint8Array, data: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
}

/**
 * Checks the API key and, where the key has a secret, the signature. `now` is Unix seconds.
 * Several credentials may share one key (secret rotation): any of its secrets verifies.
 */
export async function authenticateUpgrade(
  request: UpgradeRequest,
  credentials: readonly ApiCredential[],
  now: number,
  limits: SignatureLimits = DEFAULT_SIGNATURE_LIMITS,
): Promise<AuthResult> {
  const apiKey = request.header("x-api-key");
  if (!apiKey) return fail("missing-api-key");
  const presented = encoder.encode(apiKey);
  // Compare against every configured key so timing does not reveal which keys exist.
  const matching = credentials.filter((c) => constantTimeEqual(encoder.encode(c.apiKey), presented));
  if (matching.length === 0) return fail("unknown-api-key");
  if (matching.some((c) => c.secret === "")) return { ok: true, apiKey };

  const inputHeader = request.header("signature-input");
  const signatureHeader = request.header("signature");
  if (!inputHeader || !signatureHeader) return fail("signature-required");

  let inputs: Map<string, Item | InnerList>;
  let signatures: Map<string, Item | InnerList>;
  try {
    inputs = parseDictionary(inputHeader);
    signatures = parseDictionary(signatureHeader);
  } catch {
    return fail("malformed-signature");
  }
  // Genesys sends one signature (sig1); take the first label present in both headers.
  const label = [...inputs.keys()].find((l) => signatures.has(l));
  if (!label) return fail("malformed-signature");
  const input = inputs.get(label) as Item | InnerList;
  const signature = signatures.get(label) as Item | InnerList;
  if (!isInnerList(input) || isInnerList(signature) || !(signature[0] instanceof ArrayBuffer)) {
    return fail("malformed-signature");
  }
  const [items, params] = input;
  const components = items.map(([value]) => value);
  if (!components.every((c): c is string => typeof c === "string")) return fail("malformed-signature");
  if (!REQUIRED_COMPONENTS.every((c) => components.includes(c))) return fail("missing-components");

  const keyid = params.get("keyid");
  const alg = params.get("alg");
  const nonce = params.get("nonce");
  const created = params.get("created");
  const expires = params.get("expires");
  if (keyid !== apiKey) return fail("keyid-mismatch");
  if (alg !== undefined && alg !== "hmac-sha256") return fail("unsupported-algorithm");
  if (typeof nonce !== "string" || nonce.length < MIN_NONCE_LENGTH) return fail("bad-nonce");
  if (!Number.isInteger(created) || !Number.isInteger(expires)) return fail("malformed-signature");
  const createdAt = created as number;
  const expiresAt = expires as number;
  if (createdAt > now + limits.skewSeconds) return fail("signature-not-yet-valid");
  if (createdAt < now - limits.maxAgeSeconds - limits.skewSeconds) return fail("signature-expired");
  if (expiresAt <= now - limits.skewSeconds) return fail("signature-expired");

  const base = signatureBase(request, components, serializeInnerList(input));
  if (base === null) return fail("malformed-signature");
  const presentedMac = new Uint8Array(signature[0]);
  let verified = false;
  for (const { secret } of matching) {
    const key = decodeBase64(secret);
    if (!key) continue;
    // Try every secret (no early exit) so the count of configured secrets is all timing can tell.
    if (constantTimeEqual(await hmacSha256(key, base), presentedMac)) verified = true;
  }
  if (!verified) return fail("bad-signature");
  // A replay is refused until the signature could no longer pass the age check anyway.
  const replayWindowEnd = Math.min(expiresAt, createdAt + limits.maxAgeSeconds) + limits.skewSeconds;
  return { ok: true, apiKey, nonce: { value: nonce, expiresAt: replayWindowEnd } };
}
