// The fetch entry: routes, authenticates the AudioHook upgrade before anything else runs, and hands
// each call to its own CallSession Durable Object (keyed by the AudioHook session id).

import type { Endpoint } from "./audiohook/session";
import { authenticateUpgrade } from "./audiohook/signature";
import { loadConfig } from "./config";
import { createLogger } from "./log";
import { CALL_HEADER, type CallHandoff } from "./session/handoff";

export { TokenBroker } from "./auth/TokenBroker";
export { CallSession } from "./session/CallSession";

const AUDIOHOOK_PATHS: Record<string, Endpoint> = {
  "/api/v1/audiohook/ws": "monitor",
  "/api/v1/voicetranscription/ws": "transcription",
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REQUIRED_ID_HEADERS = [
  "audiohook-organization-id",
  "audiohook-session-id",
  "audiohook-correlation-id",
] as const;

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
    if (endpoint) return handleAudioHook(request, url, env, endpoint);
    return text(404, "not found");
  },
} satisfies ExportedHandler<Env>;

async function handleAudioHook(request: Request, url: URL, env: Env, endpoint: Endpoint): Promise<Response> {
  const started = Date.now();
  if (request.method !== "GET") return text(405, "method not allowed", { allow: "GET" });
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return text(426, "this endpoint takes a WebSocket upgrade", { upgrade: "websocket" });
  }
  for (const name of REQUIRED_ID_HEADERS) {
    const value = request.headers.get(name);
    if (!value) return text(400, `missing ${name} header`);
    if (!UUID.test(value)) return text(400, `${name} must be a UUID`);
  }
  const sessionId = (request.headers.get("audiohook-session-id") as string).toLowerCase();
  const loaded = loadConfig(env);
  const log = createLogger({ sessionId, endpoint }, loaded.ok ? loaded.config.logLevel : "info");
  if (!loaded.ok) {
    log.log("error", "config-invalid", { error: loaded.error });
    return text(500, "server misconfigured");
  }
  const config = loaded.config;
  // Every refusal leaves after the same minimum delay, so response time says nothing about why.
  const refuse = async (status: number, reason: string, code: string) => {
    log.log("warn", "upgrade-refused", { status, code });
    await sleep(Math.max(0, config.authFailureDelayMs - (Date.now() - started)));
    return text(status, reason);
  };

  const auth = await authenticateUpgrade(
    { target: url.pathname + url.search, authority: url.host, header: (n) => request.headers.get(n) },
    config.credentials,
    Math.floor(Date.now() / 1000),
    { maxAgeSeconds: config.signatureMaxAgeSeconds, skewSeconds: config.signatureSkewSeconds },
  );
  if (!auth.ok) return refuse(401, auth.reason, auth.code);

  const handoff: CallHandoff = {
    sessionId,
    organizationId: (request.headers.get("audiohook-organization-id") as string).toLowerCase(),
    correlationId: (request.headers.get("audiohook-correlation-id") as string).toLowerCase(),
    endpoint,
    nonce: auth.nonce ?? null,
  };
  // Only this worker may set the handoff header: overwrite whatever the client sent.
  const headers = new Headers(request.headers);
  headers.set(CALL_HEADER, JSON.stringify(handoff));
  const stub = env.CALL_SESSION.get(env.CALL_SESSION.idFromName(sessionId));
  const response = await stub.fetch(new Request(request.url, { method: "GET", headers }));
  if (response.status === 401) return refuse(401, "replayed signature", "replayed-nonce");
  return response;
}
