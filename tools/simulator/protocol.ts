// What the simulator checks in each server message: the AudioHook framing (version, id, seq, clientseq,
// parameters) and the shape of transcript events. Pure: a violation is returned as text, never thrown.

export const SERVER_TYPES = new Set([
  "opened",
  "pong",
  "pause",
  "resume",
  "updated",
  "event",
  "disconnect",
  "reconnect",
  "closed",
]);

const DURATION = /^PT(\d*\.)?\d+S$/;

export interface ServerMessage {
  version: string;
  id: string;
  type: string;
  seq: number;
  clientseq: number;
  parameters: Record<string, unknown>;
}

export interface Expected {
  sessionId: string;
  /** The seq of the last server message seen (0 before the first). */
  lastServerSeq: number;
  /** The seq of the last message we sent. */
  lastClientSeq: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses one text frame from the server and lists how it breaks the protocol (empty: it does not). */
export function checkServerMessage(
  text: string,
  expected: Expected,
): { message: ServerMessage | null; errors: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { message: null, errors: [`not JSON: ${text.slice(0, 80)}`] };
  }
  if (!isObject(raw)) return { message: null, errors: ["message is not a JSON object"] };
  const errors: string[] = [];
  const type = typeof raw.type === "string" ? raw.type : "";
  if (!SERVER_TYPES.has(type)) errors.push(`unknown message type ${JSON.stringify(raw.type)}`);
  if (raw.version !== "2") errors.push(`${type}: version ${JSON.stringify(raw.version)}, want "2"`);
  if (raw.id !== expected.sessionId)
    errors.push(`${type}: id ${JSON.stringify(raw.id)} is not the session's`);
  const seq = raw.seq;
  if (seq !== expected.lastServerSeq + 1) {
    errors.push(`${type}: seq ${JSON.stringify(seq)} after ${expected.lastServerSeq}`);
  }
  const clientseq = raw.clientseq;
  if (
    !Number.isInteger(clientseq) ||
    (clientseq as number) < 0 ||
    (clientseq as number) > expected.lastClientSeq
  ) {
    errors.push(
      `${type}: clientseq ${JSON.stringify(clientseq)} but we sent up to ${expected.lastClientSeq}`,
    );
  }
  if (!isObject(raw.parameters)) errors.push(`${type}: parameters missing or not an object`);
  const message: ServerMessage = {
    version: String(raw.version),
    id: String(raw.id),
    type,
    seq: typeof seq === "number" ? seq : expected.lastServerSeq + 1,
    clientseq: typeof clientseq === "number" ? clientseq : 0,
    parameters: isObject(raw.parameters) ? raw.parameters : {},
  };
  return { message, errors };
}

export interface Transcript {
  channelId: number;
  isFinal: boolean;
  offset: string;
  duration: string;
  languages: string[];
  text: string;
}

/** The transcripts in an `event` message, and what is wrong with its entities. */
export function transcriptsOf(
  message: ServerMessage,
  channelCount: number,
): { transcripts: Transcript[]; errors: string[] } {
  const errors: string[] = [];
  const transcripts: Transcript[] = [];
  const entities = message.parameters.entities;
  if (!Array.isArray(entities) || entities.length === 0) {
    return { transcripts, errors: ["event: entities missing or empty"] };
  }
  for (const entity of entities) {
    if (!isObject(entity) || entity.type !== "transcript") continue; // other entity types are allowed
    const data = isObject(entity.data) ? entity.data : {};
    const channelId = data.channelId;
    if (!Number.isInteger(channelId) || (channelId as number) < 0 || (channelId as number) >= channelCount) {
      errors.push(`transcript: channelId ${JSON.stringify(channelId)} with ${channelCount} channel(s)`);
    }
    for (const field of ["offset", "duration"] as const) {
      if (typeof data[field] !== "string" || !DURATION.test(data[field])) {
        errors.push(`transcript: ${field} ${JSON.stringify(data[field])} is not a PTnS duration`);
      }
    }
    if (typeof data.isFinal !== "boolean") errors.push("transcript: isFinal is not a boolean");
    const alternative = Array.isArray(data.alternatives) ? data.alternatives[0] : undefined;
    if (!isObject(alternative)) {
      errors.push("transcript: no alternatives");
      continue;
    }
    const languages = Array.isArray(alternative.languages)
      ? alternative.languages.filter((l): l is string => typeof l === "string")
      : [];
    const interpretation = Array.isArray(alternative.interpretations)
      ? alternative.interpretations[0]
      : undefined;
    const text =
      isObject(interpretation) && typeof interpretation.transcript === "string"
        ? interpretation.transcript
        : "";
    transcripts.push({
      channelId: typeof channelId === "number" ? channelId : -1,
      isFinal: data.isFinal === true,
      offset: String(data.offset),
      duration: String(data.duration),
      languages,
      text,
    });
  }
  return { transcripts, errors };
}
