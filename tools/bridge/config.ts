// The bridge's settings from flags and environment (flags win), validated once at start-up with a clear
// message for each bad value.
import { parseArgs } from "node:util";
import type { AckMode } from "./session.js";

export interface BridgeConfig {
  port: number;
  host: string;
  /** The seed service: http://host:port (HTTP/2 without TLS) or https://host:port. */
  upstreamUrl: string;
  /** PEM file of the CA that signed the service's certificate, when not a public one. */
  upstreamCaFile: string | undefined;
  /** Authorization header value sent to the service (e.g. "Bearer ..."). */
  upstreamAuthorization: string | undefined;
  /** Bearer token langhook must present; none: calls are not checked. */
  token: string | undefined;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  ackMode: AckMode;
  ackWaitMs: number;
  maxHeldSeconds: number;
  flushWaitMs: number;
  agentParticipantId: string;
  retryBaseMs: number;
  retryMaxMs: number;
  sessionIdleMs: number;
}

/** Each setting: its flag, its environment variable, its default, and what it means (for --help). */
export const BRIDGE_SETTINGS = {
  port: {
    env: "BRIDGE_PORT",
    default: "8080",
    help: "port to serve langhook's contract on (0: any free port)",
  },
  host: { env: "BRIDGE_HOST", default: "0.0.0.0", help: "address to listen on" },
  upstream: {
    env: "BRIDGE_UPSTREAM_URL",
    default: "",
    help: "seed service, http://host:port (h2c) or https://host:port (required)",
  },
  "upstream-ca": {
    env: "BRIDGE_UPSTREAM_CA",
    default: "",
    help: "PEM CA file for the service's TLS certificate",
  },
  "upstream-authorization": {
    env: "BRIDGE_UPSTREAM_AUTHORIZATION",
    default: "",
    help: "Authorization header sent to the service",
  },
  token: { env: "BRIDGE_TOKEN", default: "", help: "bearer token langhook must send (none: not checked)" },
  "tls-cert": {
    env: "BRIDGE_TLS_CERT",
    default: "",
    help: "PEM certificate: serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN)",
  },
  "tls-key": { env: "BRIDGE_TLS_KEY", default: "", help: "PEM private key for --tls-cert" },
  ack: {
    env: "BRIDGE_ACK",
    default: "upstream",
    help: "what langhook is told is acknowledged: upstream or received",
  },
  "ack-wait-ms": {
    env: "BRIDGE_ACK_WAIT_MS",
    default: "1000",
    help: "how long PushAudio waits for the service's acknowledgement",
  },
  "max-held-seconds": {
    env: "BRIDGE_MAX_HELD_SECONDS",
    default: "60",
    help: "audio held per channel for the service before new chunks are refused with RESOURCE_EXHAUSTED",
  },
  "flush-wait-ms": {
    env: "BRIDGE_FLUSH_WAIT_MS",
    default: "4000",
    help: "how long FlushSession waits for final results (under langhook's TRANSCRIPTION_TIMEOUT_MS)",
  },
  "agent-participant": {
    env: "BRIDGE_AGENT_PARTICIPANT",
    default: "agent",
    help: "participant_id of the agent channel",
  },
  "retry-base-ms": { env: "BRIDGE_RETRY_BASE_MS", default: "100", help: "first backoff ceiling" },
  "retry-max-ms": { env: "BRIDGE_RETRY_MAX_MS", default: "5000", help: "largest backoff ceiling" },
  "session-idle-ms": {
    env: "BRIDGE_SESSION_IDLE_MS",
    default: "600000",
    help: "a session with no call for this long is dropped",
  },
} as const;

type Name = keyof typeof BRIDGE_SETTINGS;

export type ConfigResult =
  | { ok: true; config: BridgeConfig }
  | { ok: false; error: string }
  | { ok: "help"; text: string };

/** Parses flags and environment. Pure: the same input always gives the same result. */
export function parseBridgeConfig(argv: string[], env: Record<string, string | undefined>): ConfigResult {
  let flags: Partial<Record<Name | "help", string | boolean>>;
  try {
    const options = Object.fromEntries(
      Object.keys(BRIDGE_SETTINGS).map((name) => [name, { type: "string" as const }]),
    );
    flags = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean" } },
      strict: true,
    }).values;
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  if (flags.help === true) return { ok: "help", text: helpText() };
  const get = (name: Name): string => {
    const flag = flags[name];
    if (typeof flag === "string") return flag;
    return env[BRIDGE_SETTINGS[name].env] ?? BRIDGE_SETTINGS[name].default;
  };
  const errors: string[] = [];
  const int = (name: Name, min: number, max: number): number => {
    const text = get(name);
    const n = Number(text);
    if (text === "" || !Number.isInteger(n) || n < min || n > max) {
      errors.push(
        `--${name} / ${BRIDGE_SETTINGS[name].env} must be an integer from ${min} to ${max} (got "${text}")`,
      );
    }
    return n;
  };
  const optional = (name: Name) => get(name) || undefined;
  const upstreamUrl = get("upstream").replace(/\/+$/, "");
  if (upstreamUrl === "")
    errors.push("--upstream / BRIDGE_UPSTREAM_URL is required (the seed service, e.g. http://stt:50051)");
  else if (!/^https?:\/\/[^/]+/.test(upstreamUrl))
    errors.push(`--upstream must be an http:// or https:// URL (got "${upstreamUrl}")`);
  const ack = get("ack");
  if (ack !== "upstream" && ack !== "received")
    errors.push(`--ack / BRIDGE_ACK must be upstream or received (got "${ack}")`);
  const tlsCertFile = optional("tls-cert");
  const tlsKeyFile = optional("tls-key");
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined))
    errors.push("--tls-cert and --tls-key go together");
  const agentParticipantId = get("agent-participant");
  if (agentParticipantId === "") errors.push("--agent-participant must not be empty");
  const config: BridgeConfig = {
    port: int("port", 0, 65535),
    host: get("host"),
    upstreamUrl,
    upstreamCaFile: optional("upstream-ca"),
    upstreamAuthorization: optional("upstream-authorization"),
    token: optional("token"),
    tlsCertFile,
    tlsKeyFile,
    ackMode: ack as AckMode,
    ackWaitMs: int("ack-wait-ms", 0, 60_000),
    maxHeldSeconds: int("max-held-seconds", 1, 3600),
    flushWaitMs: int("flush-wait-ms", 0, 60_000),
    agentParticipantId,
    retryBaseMs: int("retry-base-ms", 1, 60_000),
    retryMaxMs: int("retry-max-ms", 1, 600_000),
    sessionIdleMs: int("session-idle-ms", 1000, 86_400_000),
  };
  if (errors.length > 0) return { ok: false, error: errors.join("; ") };
  return { ok: true, config };
}

function helpText(): string {
  const rows = Object.entries(BRIDGE_SETTINGS).map(
    ([name, s]) =>
      `  --${name.padEnd(24)} ${s.env.padEnd(30)} ${s.help}${s.default ? ` (default ${s.default})` : ""}`,
  );
  return `npm run bridge -- [flags]   (flags win over the environment)\n${rows.join("\n")}\n`;
}
