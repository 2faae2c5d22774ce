// AudioHook v2 message types and their schemas: every client message is validated here before the
// state machine sees it, so the machine works on typed values only.

import * as v from "valibot";
import { DURATION_PATTERN, MAX_DURATION_SECONDS, parseDuration } from "./duration";

export const PROTOCOL_VERSION = "2";

const Uuid = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "expected a UUID"),
);
const Duration = v.pipe(
  v.string(),
  v.regex(DURATION_PATTERN, "expected a duration like PT1.5S"),
  v.check(
    (text) => parseDuration(text) !== undefined,
    `expected a duration of at most PT${MAX_DURATION_SECONDS}S (24 h)`,
  ),
);
// 1e308 is an integer to JavaScript; a seq past 2^53 cannot be counted on from, so it is refused too.
const Seq = v.pipe(
  v.number(),
  v.integer(),
  v.minValue(0),
  v.maxValue(Number.MAX_SAFE_INTEGER, "expected a whole number below 2^53"),
);
const Language = v.pipe(v.string(), v.regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "expected a BCP-47 tag"));

/** Every client message shares this envelope; `parameters` is checked per type below. */
export const ClientEnvelope = v.looseObject({
  version: v.string(),
  id: v.string(),
  type: v.string(),
  seq: v.pipe(Seq, v.minValue(1)),
  serverseq: Seq,
  position: Duration,
  parameters: v.looseObject({}),
});

const MediaOffer = v.looseObject({
  type: v.string(),
  format: v.string(),
  channels: v.array(v.string()),
  rate: v.number(),
});

const OpenParameters = v.looseObject({
  organizationId: Uuid,
  conversationId: Uuid,
  participant: v.looseObject({
    id: Uuid,
    ani: v.optional(v.string()),
    aniName: v.optional(v.string()),
    dnis: v.optional(v.string()),
  }),
  media: v.array(MediaOffer),
  language: v.optional(Language),
  supportedLanguages: v.optional(v.boolean()),
  customConfig: v.optional(v.record(v.string(), v.unknown())),
  continuedSessions: v.optional(v.array(v.looseObject({ id: Uuid }))),
});

const Empty = v.looseObject({});

/** Parameter schemas keyed by client message type: adding a type fails compilation until it is handled. */
export const CLIENT_PARAMETERS = {
  open: OpenParameters,
  ping: v.looseObject({ rtt: v.optional(Duration) }),
  paused: Empty,
  resumed: v.looseObject({ start: v.optional(Duration), discarded: v.optional(Duration) }),
  update: v.looseObject({ language: v.optional(Language) }),
  discarded: v.looseObject({ start: Duration, discarded: Duration }),
  error: v.looseObject({
    code: v.pipe(v.number(), v.integer()),
    message: v.string(),
    retryAfter: v.optional(Duration),
  }),
  close: v.looseObject({ reason: v.optional(v.picklist(["end", "error", "disconnect", "reconnect"])) }),
} as const;

export type ClientMessageType = keyof typeof CLIENT_PARAMETERS;
export type ClientParameters = { [K in ClientMessageType]: v.InferOutput<(typeof CLIENT_PARAMETERS)[K]> };
export type OpenParams = ClientParameters["open"];
export type MediaOfferParams = v.InferOutput<typeof MediaOffer>;

/** A validated client message, discriminated by `type`. */
export type ClientMessage = {
  [K in ClientMessageType]: {
    type: K;
    id: string;
    seq: number;
    serverseq: number;
    position: string;
    parameters: ClientParameters[K];
  };
}[ClientMessageType];

export type ServerMessageType =
  | "opened"
  | "pong"
  | "pause"
  | "resume"
  | "event"
  | "disconnect"
  | "reconnect"
  | "closed";

export interface ServerMessage {
  version: typeof PROTOCOL_VERSION;
  id: string;
  type: ServerMessageType;
  seq: number;
  clientseq: number;
  parameters: Record<string, unknown>;
}

export type DisconnectReason = "completed" | "unauthorized" | "error";

export type ParseError = {
  code: "bad-json" | "bad-envelope" | "bad-version" | "unknown-type" | "bad-parameters";
  info: string;
};

function isClientType(type: string): type is ClientMessageType {
  return Object.hasOwn(CLIENT_PARAMETERS, type);
}

/** Formats the first valibot issue as `where: what`, short enough for a disconnect `info`. */
function describeIssues(prefix: string, issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  if (!issue) return `${prefix}: invalid`;
  const path = (issue.path ?? [])
    .map((p) => (typeof p.key === "number" ? `[${p.key}]` : `.${String(p.key)}`))
    .join("");
  return `${prefix}${path}: ${issue.message}`.slice(0, 300);
}

/** Parses and validates one text frame. Never throws. */
export function parseClientMessage(
  text: string,
): { ok: true; message: ClientMessage } | { ok: false; error: ParseError } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: { code: "bad-json", info: "message is not valid JSON" } };
  }
  const envelope = v.safeParse(ClientEnvelope, json);
  if (!envelope.success) {
    return { ok: false, error: { code: "bad-envelope", info: describeIssues("message", envelope.issues) } };
  }
  const { version, type, id, seq, serverseq, position, parameters } = envelope.output;
  if (version !== PROTOCOL_VERSION) {
    return {
      ok: false,
      error: {
        code: "bad-version",
        info: `unsupported protocol version "${version}"; this server speaks version 2`,
      },
    };
  }
  if (!isClientType(type)) {
    return {
      ok: false,
      error: { code: "unknown-type", info: `unknown message type "${type.slice(0, 40)}"` },
    };
  }
  const params = v.safeParse(CLIENT_PARAMETERS[type], parameters);
  if (!params.success) {
    return {
      ok: false,
      error: { code: "bad-parameters", info: describeIssues(`${type}.parameters`, params.issues) },
    };
  }
  return {
    ok: true,
    message: { type, id, seq, serverseq, position, parameters: params.output } as ClientMessage,
  };
}
