// Environment → typed, validated configuration, read once per isolate. Defaults live in one table
// (CONFIG_DEFAULTS) that the README mirrors.

import * as v from "valibot";
import type { ApiCredential } from "./audiohook/signature";
import { MIN_HS256_SECRET_BYTES } from "./auth/jwt";
import { usesServiceBinding } from "./forward/service-fetch";

export const CONFIG_DEFAULTS = {
  AUTH_FAILURE_DELAY_MS: 250,
  SIGNATURE_MAX_AGE_S: 10,
  SIGNATURE_SKEW_S: 5,
  MAX_FRAME_MS: 1000,
  DISCONNECT_GRACE_MS: 5000,
  SUPPORTED_LANGUAGES: "en-US,es-ES,fr-FR,de-DE,it-IT,pt-BR,nl-NL",
  ACOUSTIC_COMMIT_PERCENT: 90,
  ACOUSTIC_DETECTOR: "on",
  LOG_LEVEL: "info",
  BATCH_MS: 100,
  FORWARD_INTERVAL_MS: 300,
  OUTBOX_MAX_SECONDS: 60,
  TRANSCRIPTION_TIMEOUT_MS: 5000,
  TRANSCRIPTION_PROTOCOL: "connect",
  CLOSE_FLUSH_TIMEOUT_MS: 3000,
  MEDIA_API_REQUIRED_SCOPE: "media:websocket:read",
  MEDIA_API_CLOCK_SKEW_S: 30,
} as const;

/** How media-api upgrades are authenticated: a shared HS256 secret or a JWKS URL. */
export interface MediaApiAuth {
  secret: string | null;
  jwksUrl: string | null;
  issuer: string | undefined;
  audience: string | undefined;
  requiredScope: string;
  clockSkewSeconds: number;
}

export interface Config {
  credentials: ApiCredential[];
  authFailureDelayMs: number;
  signatureMaxAgeSeconds: number;
  signatureSkewSeconds: number;
  maxFrameMs: number;
  disconnectGraceMs: number;
  supportedLanguages: string[];
  /** Posterior (0-1) the acoustic detector needs before it tags a channel as not provisional. */
  acousticCommitConfidence: number;
  /** Off: channels are tagged from the configured language and transcripts only (ACOUSTIC_DETECTOR). */
  acousticDetector: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
  /**
   * Base URL of the transcription service; null: audio is received and metered, not forwarded. With a
   * TRANSCRIPTION_SERVICE binding and no TRANSCRIPTION_URL, SERVICE_BINDING_URL (the binding ignores the host).
   */
  transcriptionUrl: string | null;
  /** Wire protocol to the service: Connect, or gRPC-web for a gRPC server behind a gRPC-web proxy. */
  transcriptionProtocol: "connect" | "grpc-web";
  batchMs: number;
  /** Audio requests go at most this often while nothing needs flushing (FORWARD_INTERVAL_MS). */
  forwardIntervalMs: number;
  outboxMaxSeconds: number;
  transcriptionTimeoutMs: number;
  closeFlushTimeoutMs: number;
  mediaApi: MediaApiAuth | null;
  /** Client-credentials settings for the transcription service; null: calls go unauthenticated. */
  transcriptionOAuth: {
    tokenUrl: string;
    clientId: string;
    clientSecret: string;
    scope: string | undefined;
  } | null;
}

const list = (text: string) => text.split(",").map((s) => s.trim());
const numberFrom = (name: string, min: number, max: number) =>
  v.pipe(
    v.optional(v.string()),
    v.transform((s) => (s === undefined || s === "" ? undefined : Number(s))),
    v.optional(
      v.pipe(
        v.number(`${name} must be a number`),
        v.integer(`${name} must be an integer`),
        v.minValue(min, `${name} must be at least ${min}`),
        v.maxValue(max, `${name} must be at most ${max}`),
      ),
    ),
  );

const EnvSchema = v.looseObject({
  AUDIOHOOK_API_KEY: v.optional(v.string()),
  AUDIOHOOK_CLIENT_SECRET: v.optional(v.string()),
  AUTH_FAILURE_DELAY_MS: numberFrom("AUTH_FAILURE_DELAY_MS", 0, 5000),
  SIGNATURE_MAX_AGE_S: numberFrom("SIGNATURE_MAX_AGE_S", 1, 300),
  SIGNATURE_SKEW_S: numberFrom("SIGNATURE_SKEW_S", 0, 60),
  MAX_FRAME_MS: numberFrom("MAX_FRAME_MS", 20, 5000),
  DISCONNECT_GRACE_MS: numberFrom("DISCONNECT_GRACE_MS", 0, 60000),
  SUPPORTED_LANGUAGES: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z]{2,3}-[A-Za-z]{2,3}(,[a-z]{2,3}-[A-Za-z]{2,3})*$/)),
  ),
  ACOUSTIC_COMMIT_PERCENT: numberFrom("ACOUSTIC_COMMIT_PERCENT", 50, 99),
  ACOUSTIC_DETECTOR: v.optional(v.picklist(["on", "off"], "ACOUSTIC_DETECTOR must be on or off")),
  LOG_LEVEL: v.optional(v.picklist(["debug", "info", "warn", "error"])),
  TRANSCRIPTION_URL: v.optional(
    v.union([v.literal(""), v.pipe(v.string(), v.url("TRANSCRIPTION_URL must be a URL"))]),
  ),
  TRANSCRIPTION_PROTOCOL: v.optional(
    v.picklist(["connect", "grpc-web", ""], "TRANSCRIPTION_PROTOCOL must be connect or grpc-web"),
  ),
  BATCH_MS: numberFrom("BATCH_MS", 20, 1000),
  FORWARD_INTERVAL_MS: numberFrom("FORWARD_INTERVAL_MS", 0, 2000),
  OUTBOX_MAX_SECONDS: numberFrom("OUTBOX_MAX_SECONDS", 1, 600),
  TRANSCRIPTION_TIMEOUT_MS: numberFrom("TRANSCRIPTION_TIMEOUT_MS", 100, 60000),
  CLOSE_FLUSH_TIMEOUT_MS: numberFrom("CLOSE_FLUSH_TIMEOUT_MS", 0, 60000),
  MEDIA_API_JWT_SECRET: v.optional(v.string()),
  MEDIA_API_JWKS_URL: v.optional(
    v.union([v.literal(""), v.pipe(v.string(), v.url("MEDIA_API_JWKS_URL must be a URL"))]),
  ),
  MEDIA_API_ISSUER: v.optional(v.string()),
  MEDIA_API_AUDIENCE: v.optional(v.string()),
  MEDIA_API_REQUIRED_SCOPE: v.optional(v.string()),
  MEDIA_API_CLOCK_SKEW_S: numberFrom("MEDIA_API_CLOCK_SKEW_S", 0, 600),
  TRANSCRIPTION_TOKEN_URL: v.optional(
    v.union([v.literal(""), v.pipe(v.string(), v.url("TRANSCRIPTION_TOKEN_URL must be a URL"))]),
  ),
  TRANSCRIPTION_CLIENT_ID: v.optional(v.string()),
  TRANSCRIPTION_CLIENT_SECRET: v.optional(v.string()),
  TRANSCRIPTION_TOKEN_SCOPE: v.optional(v.string()),
});

/** The URL used with a TRANSCRIPTION_SERVICE binding when TRANSCRIPTION_URL is not set: only its path matters. */
export const SERVICE_BINDING_URL = "https://transcription-service";

export type ConfigResult = { ok: true; config: Config } | { ok: false; error: string };

/** Parses the worker's environment. Pure: the same env always gives the same result. */
export function parseConfig(env: Record<string, unknown>): ConfigResult {
  const parsed = v.safeParse(EnvSchema, env);
  if (!parsed.success) {
    return { ok: false, error: parsed.issues.map((i) => i.message).join("; ") };
  }
  const e = parsed.output;
  if (!e.AUDIOHOOK_API_KEY) return { ok: false, error: "AUDIOHOOK_API_KEY is not set" };
  if (e.AUDIOHOOK_CLIENT_SECRET === undefined) {
    return {
      ok: false,
      error: "AUDIOHOOK_CLIENT_SECRET is not set (an empty string allows unsigned upgrades)",
    };
  }
  const keys = list(e.AUDIOHOOK_API_KEY);
  const secrets = list(e.AUDIOHOOK_CLIENT_SECRET);
  if (keys.some((k) => k === "")) return { ok: false, error: "AUDIOHOOK_API_KEY has an empty entry" };
  if (secrets.length !== keys.length) {
    return {
      ok: false,
      error: `AUDIOHOOK_API_KEY has ${keys.length} entries but AUDIOHOOK_CLIENT_SECRET has ${secrets.length}: pair them by position (an empty secret allows unsigned upgrades)`,
    };
  }
  const credentials = keys.map((apiKey, i) => ({ apiKey, secret: secrets[i] ?? "" }));
  for (const { secret } of credentials) {
    if (secret !== "" && !/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) {
      return { ok: false, error: "AUDIOHOOK_CLIENT_SECRET entries must be base64 (as Genesys shows them)" };
    }
  }
  const oauthParts = [e.TRANSCRIPTION_TOKEN_URL, e.TRANSCRIPTION_CLIENT_ID, e.TRANSCRIPTION_CLIENT_SECRET];
  const oauthSet = oauthParts.filter((p) => p !== undefined && p !== "").length;
  if (oauthSet !== 0 && oauthSet !== 3) {
    return {
      ok: false,
      error:
        "set all of TRANSCRIPTION_TOKEN_URL, TRANSCRIPTION_CLIENT_ID and TRANSCRIPTION_CLIENT_SECRET, or none",
    };
  }
  // Checked here, with the rest, so a short secret is a clear configuration error, not a 500 per upgrade.
  const jwtSecretBytes = new TextEncoder().encode(e.MEDIA_API_JWT_SECRET ?? "").byteLength;
  if (jwtSecretBytes > 0 && jwtSecretBytes < MIN_HS256_SECRET_BYTES) {
    return {
      ok: false,
      error: `MEDIA_API_JWT_SECRET is ${jwtSecretBytes} bytes; an HS256 secret must be at least ${MIN_HS256_SECRET_BYTES} bytes`,
    };
  }
  return {
    ok: true,
    config: {
      credentials,
      authFailureDelayMs: e.AUTH_FAILURE_DELAY_MS ?? CONFIG_DEFAULTS.AUTH_FAILURE_DELAY_MS,
      signatureMaxAgeSeconds: e.SIGNATURE_MAX_AGE_S ?? CONFIG_DEFAULTS.SIGNATURE_MAX_AGE_S,
      signatureSkewSeconds: e.SIGNATURE_SKEW_S ?? CONFIG_DEFAULTS.SIGNATURE_SKEW_S,
      maxFrameMs: e.MAX_FRAME_MS ?? CONFIG_DEFAULTS.MAX_FRAME_MS,
      disconnectGraceMs: e.DISCONNECT_GRACE_MS ?? CONFIG_DEFAULTS.DISCONNECT_GRACE_MS,
      supportedLanguages: list(e.SUPPORTED_LANGUAGES ?? CONFIG_DEFAULTS.SUPPORTED_LANGUAGES),
      acousticCommitConfidence: (e.ACOUSTIC_COMMIT_PERCENT ?? CONFIG_DEFAULTS.ACOUSTIC_COMMIT_PERCENT) / 100,
      acousticDetector: (e.ACOUSTIC_DETECTOR ?? CONFIG_DEFAULTS.ACOUSTIC_DETECTOR) === "on",
      logLevel: e.LOG_LEVEL ?? CONFIG_DEFAULTS.LOG_LEVEL,
      transcriptionUrl: e.TRANSCRIPTION_URL
        ? e.TRANSCRIPTION_URL.replace(/\/+$/, "")
        : usesServiceBinding(env)
          ? SERVICE_BINDING_URL
          : null,
      transcriptionProtocol: e.TRANSCRIPTION_PROTOCOL || CONFIG_DEFAULTS.TRANSCRIPTION_PROTOCOL,
      batchMs: e.BATCH_MS ?? CONFIG_DEFAULTS.BATCH_MS,
      forwardIntervalMs: e.FORWARD_INTERVAL_MS ?? CONFIG_DEFAULTS.FORWARD_INTERVAL_MS,
      outboxMaxSeconds: e.OUTBOX_MAX_SECONDS ?? CONFIG_DEFAULTS.OUTBOX_MAX_SECONDS,
      transcriptionTimeoutMs: e.TRANSCRIPTION_TIMEOUT_MS ?? CONFIG_DEFAULTS.TRANSCRIPTION_TIMEOUT_MS,
      closeFlushTimeoutMs: e.CLOSE_FLUSH_TIMEOUT_MS ?? CONFIG_DEFAULTS.CLOSE_FLUSH_TIMEOUT_MS,
      mediaApi:
        e.MEDIA_API_JWT_SECRET || e.MEDIA_API_JWKS_URL
          ? {
              secret: e.MEDIA_API_JWT_SECRET || null,
              jwksUrl: e.MEDIA_API_JWKS_URL || null,
              issuer: e.MEDIA_API_ISSUER || undefined,
              audience: e.MEDIA_API_AUDIENCE || undefined,
              requiredScope: e.MEDIA_API_REQUIRED_SCOPE || CONFIG_DEFAULTS.MEDIA_API_REQUIRED_SCOPE,
              clockSkewSeconds: e.MEDIA_API_CLOCK_SKEW_S ?? CONFIG_DEFAULTS.MEDIA_API_CLOCK_SKEW_S,
            }
          : null,
      transcriptionOAuth:
        oauthSet === 3
          ? {
              tokenUrl: e.TRANSCRIPTION_TOKEN_URL as string,
              clientId: e.TRANSCRIPTION_CLIENT_ID as string,
              clientSecret: e.TRANSCRIPTION_CLIENT_SECRET as string,
              scope: e.TRANSCRIPTION_TOKEN_SCOPE || undefined,
            }
          : null,
    },
  };
}

const cache = new WeakMap<object, ConfigResult>();

/** parseConfig, memoised per env object (the runtime hands the same env to every request of an isolate). */
export function loadConfig(env: object): ConfigResult {
  let result = cache.get(env);
  if (!result) {
    result = parseConfig(env as Record<string, unknown>);
    cache.set(env, result);
  }
  return result;
}
