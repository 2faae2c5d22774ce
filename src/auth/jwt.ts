// Bearer JWT checks for the media-api endpoint: signature (JWKS URL or shared HS256 secret), issuer,
// audience, expiry and scope, answered as a value the Worker maps straight to an HTTP status.

import {
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWSAlgorithm,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";

export type JwtFailureCode =
  /** No Authorization header (or an empty token). */
  | "ERR_AUTH_MISSING"
  /** Not `Bearer <token>`, or the token is not a well-formed JWS/JWT. */
  | "ERR_AUTH_MALFORMED"
  /** Signature does not verify, the key is unknown, or the algorithm is not allowed. */
  | "ERR_AUTH_BAD_SIGNATURE"
  | "ERR_AUTH_EXPIRED"
  /** `iss`, `aud`, `nbf`, `iat` or a required claim is wrong or missing. */
  | "ERR_AUTH_CLAIM"
  /** Valid token without the required scope (403). */
  | "ERR_AUTH_INSUFFICIENT_SCOPE"
  /** The JWKS could not be fetched: our problem, not the caller's (503). */
  | "ERR_AUTH_KEYS_UNAVAILABLE";

export type JwtCheck =
  | { readonly ok: true; readonly claims: JWTPayload; readonly scopes: readonly string[] }
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 503;
      readonly code: JwtFailureCode;
      readonly reason: string;
    };

export type BearerParse =
  | { readonly ok: true; readonly token: string }
  | { readonly ok: false; readonly code: "ERR_AUTH_MISSING" | "ERR_AUTH_MALFORMED"; readonly reason: string };

/** Thrown by {@link createJwtVerifier} for a configuration that cannot work; never for a bad token. */
export class JwtConfigError extends Error {
  override readonly name = "JwtConfigError";
  readonly code = "ERR_JWT_CONFIG";
}

export type JwtKeySource =
  | {
      readonly jwksUrl: string;
      /** Default: the asymmetric algorithms jose supports for JWKS (RS*, PS*, ES*, EdDSA). */
      readonly algorithms?: readonly JWSAlgorithm[];
      /** How long after a fetch an unknown `kid` may trigger another (jose's cooldown). Default 30 000. */
      readonly jwksCooldownMs?: number;
      /** Default 600 000. */
      readonly jwksCacheMaxAgeMs?: number;
      /** Default 5 000. */
      readonly jwksTimeoutMs?: number;
      readonly fetch?: typeof fetch;
    }
  | {
      /** Shared HS256 secret, at least 32 bytes (RFC 7518 §3.2). */
      readonly secret: string | Uint8Array;
    };

export type JwtVerifierOptions = JwtKeySource & {
  readonly issuer?: string | readonly string[];
  readonly audience?: string | readonly string[];
  /** Default 30. */
  readonly clockSkewSec?: number;
  /** All of these must be granted; default `media:websocket:read`; `[]` checks no scope. */
  readonly requiredScopes?: readonly string[];
  /** Epoch ms. */
  readonly now?: () => number;
};

export interface JwtVerifier {
  /** Checks an `Authorization` header value. */
  verifyAuthorization(header: string | null | undefined): Promise<JwtCheck>;
  /** Checks a bare token, e.g. one carried in a WebSocket subprotocol where browsers cannot set headers. */
  verifyToken(token: string): Promise<JwtCheck>;
}

export const DEFAULT_REQUIRED_SCOPE = "media:websocket:read";

const ASYMMETRIC: readonly JWSAlgorithm[] = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];
/** RFC 7518 §3.2: an HS256 key is at least as long as the hash. config.ts checks it at load too. */
export const MIN_HS256_SECRET_BYTES = 32;
// Three base64url segments; the checks after it are jose's.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** `Bearer <token>` (scheme case-insensitive, RFC 7235) → the token. */
export function parseBearer(header: string | null | undefined): BearerParse {
  if (header === null || header === undefined || header.trim() === "") {
    return { ok: false, code: "ERR_AUTH_MISSING", reason: "missing bearer token" };
  }
  const match = /^Bearer +(\S+)\s*$/i.exec(header.trim());
  if (match?.[1] === undefined) {
    return { ok: false, code: "ERR_AUTH_MALFORMED", reason: "authorization is not a bearer token" };
  }
  return { ok: true, token: match[1] };
}

/** Scopes granted by a token: `scope` (space-separated) and `scp` (array, or string as Azure AD sends it). */
export function grantedScopes(claims: JWTPayload): string[] {
  const granted = new Set<string>();
  const add = (value: unknown): void => {
    if (typeof value === "string") for (const s of value.split(" ")) if (s !== "") granted.add(s);
    if (Array.isArray(value)) for (const s of value) if (typeof s === "string" && s !== "") granted.add(s);
  };
  add(claims.scope);
  add(claims.scp);
  return [...granted];
}

/**
 * A `WWW-Authenticate` value for a failed check (RFC 6750 §3); the reason stays out of it on purpose,
 * the error code is enough for a client.
 */
export function wwwAuthenticate(
  check: Extract<JwtCheck, { ok: false }>,
  requiredScopes: readonly string[] = [],
): string {
  if (check.code === "ERR_AUTH_MISSING") return "Bearer";
  if (check.code === "ERR_AUTH_INSUFFICIENT_SCOPE") {
    return `Bearer error="insufficient_scope", scope="${requiredScopes.join(" ")}"`;
  }
  if (check.code === "ERR_AUTH_MALFORMED") return 'Bearer error="invalid_request"';
  return 'Bearer error="invalid_token"';
}

export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const { key, algorithms } = keyFor(options);
  const remoteKeys = "jwksUrl" in options;
  const requiredScopes = options.requiredScopes ?? [DEFAULT_REQUIRED_SCOPE];
  const now = options.now ?? Date.now;

  const verifyToken = async (token: string): Promise<JwtCheck> => {
    if (!COMPACT_JWS.test(token)) return fail(401, "ERR_AUTH_MALFORMED", "token is not a JWT");
    let claims: JWTPayload;
    try {
      const verified = await jwtVerify(token, key, {
        algorithms: [...algorithms],
        ...(options.issuer === undefined ? {} : { issuer: toList(options.issuer) }),
        ...(options.audience === undefined ? {} : { audience: toList(options.audience) }),
        clockTolerance: options.clockSkewSec ?? 30,
        currentDate: new Date(now()),
        // A token without exp would be valid forever.
        requiredClaims: ["exp"],
      });
      claims = verified.payload;
    } catch (error) {
      return classify(error, remoteKeys);
    }
    const scopes = grantedScopes(claims);
    const missing = requiredScopes.filter((s) => !scopes.includes(s));
    if (missing.length > 0) {
      return fail(403, "ERR_AUTH_INSUFFICIENT_SCOPE", `token lacks scope ${missing.join(" ")}`);
    }
    return { ok: true, claims, scopes };
  };

  return {
    verifyToken,
    verifyAuthorization: async (header) => {
      const bearer = parseBearer(header);
      return bearer.ok ? verifyToken(bearer.token) : fail(401, bearer.code, bearer.reason);
    },
  };
}

function keyFor(options: JwtKeySource): {
  key: Uint8Array | JWTVerifyGetKey;
  algorithms: readonly JWSAlgorithm[];
} {
  if ("secret" in options) {
    const secret =
      typeof options.secret === "string" ? new TextEncoder().encode(options.secret) : options.secret;
    if (secret.byteLength < MIN_HS256_SECRET_BYTES) {
      throw new JwtConfigError(`HS256 secret must be at least ${MIN_HS256_SECRET_BYTES} bytes`);
    }
    return { key: secret, algorithms: ["HS256"] };
  }
  let url: URL;
  try {
    url = new URL(options.jwksUrl);
  } catch {
    throw new JwtConfigError("jwksUrl is not a URL");
  }
  const jwksFetch = options.fetch;
  const jwks = createRemoteJWKSet(url, {
    ...(options.jwksCooldownMs === undefined ? {} : { cooldownDuration: options.jwksCooldownMs }),
    ...(options.jwksCacheMaxAgeMs === undefined ? {} : { cacheMaxAge: options.jwksCacheMaxAgeMs }),
    ...(options.jwksTimeoutMs === undefined ? {} : { timeoutDuration: options.jwksTimeoutMs }),
    ...(jwksFetch === undefined
      ? {}
      : { [customFetch]: (input: string, init: RequestInit) => jwksFetch(input, init) }),
  });
  return { key: jwks, algorithms: options.algorithms ?? ASYMMETRIC };
}

// jose's error codes → ours; reasons are fixed strings so nothing about keys or claims values leaks.
function classify(error: unknown, remoteKeys: boolean): JwtCheck {
  const code = error instanceof errors.JOSEError ? error.code : undefined;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return fail(401, "ERR_AUTH_EXPIRED", "token expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const claim = error instanceof errors.JWTClaimValidationFailed ? error.claim : "";
      // Only the claim's name, which is one of a fixed handful.
      const named = ["iss", "aud", "nbf", "iat", "exp"].includes(claim) ? ` ${claim}` : "";
      return fail(401, "ERR_AUTH_CLAIM", `token claim${named} rejected`);
    }
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return fail(401, "ERR_AUTH_BAD_SIGNATURE", "token signature not accepted");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
    case "ERR_JOSE_NOT_SUPPORTED":
      return fail(401, "ERR_AUTH_MALFORMED", "token is not a valid JWT");
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
      return fail(503, "ERR_AUTH_KEYS_UNAVAILABLE", "signing keys unavailable");
    default:
      // With a JWKS, anything else comes from fetching it: a non-200 or unparsable answer (a plain
      // JOSEError) or a network error (whatever fetch throws).
      if (remoteKeys) return fail(503, "ERR_AUTH_KEYS_UNAVAILABLE", "signing keys unavailable");
      return fail(401, "ERR_AUTH_MALFORMED", "token is not a valid JWT");
  }
}

function fail(status: 401 | 403 | 503, code: JwtFailureCode, reason: string): JwtCheck {
  return { ok: false, status, code, reason };
}

function toList(value: string | readonly string[]): string | string[] {
  return typeof value === "string" ? value : [...value];
}
