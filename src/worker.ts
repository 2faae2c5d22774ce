// The fetch entry: routes, authenticates every upgrade before anything else runs, and hands each call
// to its own CallSession Durable Object (keyed by the AudioHook session id, or by conversation and
// participant for the media-api).

import type { Endpoint } from "./audiohook/session";
import { authenticateUpgrade } from "./audiohook/signature";
import { createJwtVerifier, type JwtVerifier, wwwAuthenticate } from "./auth/jwt";
import { type Config, loadConfig, type MediaApiAuth } from "./config";
import { createLogger, type Logger } from "./log";
import { CALL_HEADER, type CallHandoff, mediaApiSessionId } from "./session/handoff";
import { metricsBinding, refusalDataPoint, writeMetrics } from "./session/metrics";

export { TokenBroker } from "./auth/TokenBroker";
export { CallSession } from "./session/CallSession";

const AUDIOHOOK_PATHS: Record<string, Endpoint> = {
  "/api/v1/audiohook/ws": "monitor",
  "/api/v1/voicetranscription/ws": "transcription",
};
const MEDIA_API_PATH = "/media-api";
const MEDIA_API_PROTOCOL = "media-api";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REQUIRED_ID_HEADERS = [
  "audiohook-organization-id",
  "audiohook-session-id",
  "audiohook-correlation-id",
] as const;
const STREAM_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const LANGUAGE = /^[a-z]{2,3}-[A-Za-z]{2,3}$/;

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(`${body}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") {
      return Response.json({ status: "ok", service: "langhook" });
    }
    const endpoint = AUDIOHOOK_PATHS[url.pathname];
    if (endpoint || url.pathname === MEDIA_API_PATH) {
      if (request.method !== "GET") return text(405, "method not allowed", { allow: "GET" });
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return text(426, "this endpoint takes a WebSocket upgrade", { upgrade: "websocket" });
      }
      const loaded = loadConfig(env);
      if (!loaded.ok) {
        createLogger().log("error", "config-invalid", { error: loaded.error });
        return text(500, "server misconfigured");
      }
      return endpoint
        ? handleAudioHook(request, url, env, loaded.config, endpoint)
        : handleMediaApi(request, url, env, loaded.config);
    }
    return text(404, "not found");
  },
} satisfies ExportedHandler<Env>;

/**
 * The body of every 401: an unknown key, a bad signature, a replay and a bad token read the same, so the
 * answer cannot tell an attacker whether a key exists or how far a forgery got. The cause is in the log.
 */
// Not exported: every named export of the entry module must be a handler or a class, or workerd refuses it.
const UNAUTHORIZED_BODY = "unauthorized";

/** When an upgrade began, on which endpoint, and where its refusal is counted (CALL_METRICS, when bound). */
interface Started {
  at: number;
  endpoint: string;
  metrics: unknown;
}

const startUpgrade = (env: Env, endpoint: string): Started => ({
  at: Date.now(),
  endpoint,
  metrics: metricsBinding(env),
});

/**
 * Every refused upgrade (400 and 401 alike) leaves after the same minimum delay, so response time says
 * nothing about why. A 401 always answers UNAUTHORIZED_BODY; `reason` is the answer of other statuses.
 * Each refusal is also one Analytics Engine point with its cause, when the dataset is bound.
 */
async function refuse(
  started: Started,
  config: Config,
  log: Logger,
  status: number,
  reason: string,
  code: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  log.log("warn", "upgrade-refused", { status, code, reason });
  writeMetrics(started.metrics, refusalDataPoint(code, started.endpoint, status), log);
  await sleep(Math.max(0, config.authFailureDelayMs - (Date.now() - started.at)));
  return text(status, status === 401 ? UNAUTHORIZED_BODY : reason, headers);
}

async function handleAudioHook(
  request: Request,
  url: URL,
  env: Env,
  config: Config,
  endpoint: Endpoint,
): Promise<Response> {
  const started = startUpgrade(env, endpoint);
  for (const name of REQUIRED_ID_HEADERS) {
    const value = request.headers.get(name);
    const problem = !value ? `missing ${name} header` : UUID.test(value) ? null : `${name} must be a UUID`;
    if (problem) {
      const log = createLogger({ endpoint }, config.logLevel);
      return refuse(started, config, log, 400, problem, "bad-id-header");
    }
  }
  const sessionId = (request.headers.get("audiohook-session-id") as string).toLowerCase();
  const log = createLogger({ sessionId, endpoint }, config.logLevel);
  const auth = await authenticateUpgrade(
    { target: url.pathname + url.search, authority: url.host, header: (n) => request.headers.get(n) },
    config.credentials,
    Math.floor(Date.now() / 1000),
    { maxAgeSeconds: config.signatureMaxAgeSeconds, skewSeconds: config.signatureSkewSeconds },
  );
  if (!auth.ok) return refuse(started, config, log, 401, "invalid credentials", auth.code);

  const handoff: CallHandoff = {
    protocol: "audiohook",
    sessionId,
    organizationId: (request.headers.get("audiohook-organization-id") as string).toLowerCase(),
    correlationId: (request.headers.get("audiohook-correlation-id") as string).toLowerCase(),
    endpoint,
    nonce: auth.nonce ?? null,
  };
  const stub = env.CALL_SESSION.get(env.CALL_SESSION.idFromName(sessionId));
  return callObject(stub, request, handoff, started, config, log);
}

/** Only this worker may set the handoff header: it overwrites whatever the client sent. */
function withHandoff(request: Request, handoff: CallHandoff): Request {
  const headers = new Headers(request.headers);
  headers.set(CALL_HEADER, JSON.stringify(handoff));
  return new Request(request.url, { method: "GET", headers });
}

let verifier: { auth: MediaApiAuth; verifier: JwtVerifier } | undefined;

/** One verifier per isolate, so its JWKS cache is shared by every upgrade. */
function mediaApiVerifier(auth: MediaApiAuth): JwtVerifier {
  if (verifier?.auth !== auth) {
    const common = {
      issuer: auth.issuer,
      audience: auth.audience,
      clockSkewSec: auth.clockSkewSeconds,
      requiredScopes: [auth.requiredScope],
    };
    verifier = {
      auth,
      verifier: auth.jwksUrl
        ? createJwtVerifier({ jwksUrl: auth.jwksUrl, ...common })
        : createJwtVerifier({ secret: auth.secret as string, ...common }),
    };
  }
  return verifier.verifier;
}

async function handleMediaApi(request: Request, url: URL, env: Env, config: Config): Promise<Response> {
  const started = startUpgrade(env, "media-api");
  const log = createLogger({ protocol: "media-api" }, config.logLevel);
  // The token first: a request without a valid one learns nothing else about what we expect.
  if (!config.mediaApi) {
    return refuse(
      started,
      config,
      log,
      401,
      "media-api is not enabled on this deployment",
      "media-api-disabled",
    );
  }
  const check = await mediaApiVerifier(config.mediaApi).verifyAuthorization(
    request.headers.get("authorization"),
  );
  if (!check.ok) {
    return refuse(started, config, log, check.status, check.reason, check.code, {
      "www-authenticate": wwwAuthenticate(check, [config.mediaApi.requiredScope]),
    });
  }
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  if (!offered.includes(MEDIA_API_PROTOCOL)) {
    return refuse(
      started,
      config,
      log,
      400,
      `offer the WebSocket subprotocol "${MEDIA_API_PROTOCOL}" (Sec-WebSocket-Protocol)`,
      "no-subprotocol",
    );
  }
  // The query names the stream when the client can put it there; Genesys' Media API dials one configured
  // URL, and its frames name the conversation and participant instead.
  const conversationId = url.searchParams.get("conversationId");
  const participantId = url.searchParams.get("participantId");
  const language = url.searchParams.get("language");
  const named = conversationId !== null || participantId !== null;
  const badQuery =
    named && (!conversationId || !STREAM_ID.test(conversationId))
      ? "query parameter conversationId must be 1-128 of A-Z a-z 0-9 . _ : - (with participantId, or neither)"
      : named && (!participantId || !STREAM_ID.test(participantId))
        ? "query parameter participantId must be 1-128 of A-Z a-z 0-9 . _ : - (with conversationId, or neither)"
        : language !== null && !LANGUAGE.test(language)
          ? "language must look like en-US"
          : null;
  if (badQuery) return refuse(started, config, log, 400, badQuery, "bad-query");
  if (conversationId && participantId) {
    // One object per stream: a reconnect reaches the same object and continues the stream.
    const handoff: CallHandoff = { protocol: "media-api", conversationId, participantId, language };
    const stub = env.CALL_SESSION.get(
      env.CALL_SESSION.idFromName(mediaApiSessionId(conversationId, participantId)),
    );
    return callObject(stub, request, handoff, started, config, log);
  }
  // Not named yet: one object for this connection, which learns the stream from its first frame.
  const connectionId = crypto.randomUUID();
  const handoff: CallHandoff = {
    protocol: "media-api",
    conversationId: null,
    participantId: null,
    language,
    connectionId,
  };
  const stub = env.CALL_SESSION.get(env.CALL_SESSION.idFromName(`media-api-connection:${connectionId}`));
  return callObject(stub, request, handoff, started, config, log);
}

/**
 * Hands the upgrade to the call's object. What it refuses (a replayed nonce, a session id in use, a
 * media-api stream already connected) is a refusal like any other: the same delay, log line and metric.
 */
async function callObject(
  stub: DurableObjectStub,
  request: Request,
  handoff: CallHandoff,
  started: Started,
  config: Config,
  log: Logger,
): Promise<Response> {
  const response = await stub.fetch(withHandoff(request, handoff));
  if (response.status === 101) return response;
  if (response.status === 401)
    return refuse(started, config, log, 401, "replayed signature", "replayed-nonce");
  const reason = (await response.text()).trim();
  const code = response.status === 409 ? "session-in-use" : `object-${response.status}`;
  return refuse(started, config, log, response.status, reason, code);
}
