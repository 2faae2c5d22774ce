// The media-api's JSON text frame: one base64 chunk of mono audio for one participant, validated and
// normalised (format spelling, timestamp, decoded bytes) or rejected with a specific code and reason.

import * as v from "valibot";

export type FrameFormat = "PCMU" | "L16";
export type FrameSampleRate = 8000 | 16000;

/**
 * Accepted `format` spellings, compared after trimming and lower-casing. MIME parameters
 * (`audio/L16;rate=16000`) are not parsed: the rate is its own field.
 */
export const FORMAT_ALIASES: Readonly<Record<string, FrameFormat>> = {
  pcmu: "PCMU",
  "audio/pcmu": "PCMU",
  mulaw: "PCMU",
  ulaw: "PCMU",
  "mu-law": "PCMU",
  "u-law": "PCMU",
  "audio/x-mulaw": "PCMU",
  g711u: "PCMU",
  l16: "L16",
  "audio/l16": "L16",
  pcm16: "L16",
  linear16: "L16",
};

export const SAMPLE_RATES: readonly FrameSampleRate[] = [8000, 16000];

export interface FrameLimits {
  /** Longest audio one frame may carry. Default 1000 ms. */
  readonly maxAudioMs: number;
  /** Longest frame text, checked before JSON.parse. Default 65 536 (1 s of L16 at 16 kHz is ~42.7 k of base64). */
  readonly maxFrameChars: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxAudioMs: 1000, maxFrameChars: 65_536 };

export interface MediaApiFrame {
  readonly conversationId: string;
  readonly participantId: string;
  readonly format: FrameFormat;
  readonly sampleRate: FrameSampleRate;
  readonly sequenceNumber: number;
  /** Epoch ms, from either accepted timestamp form. */
  readonly timestampMs: number;
  /** The decoded bytes as sent: µ-law, or L16 in network byte order (big-endian, RFC 3551). */
  readonly audio: Uint8Array;
  /** Samples in `audio` (mono). */
  readonly samples: number;
}

export type FrameErrorCode =
  | "ERR_FRAME_TOO_LARGE"
  | "ERR_FRAME_MALFORMED_JSON"
  | "ERR_FRAME_NOT_OBJECT"
  | "ERR_FRAME_MISSING_FIELD"
  | "ERR_FRAME_WRONG_TYPE"
  | "ERR_FRAME_BAD_ID"
  | "ERR_FRAME_BAD_BASE64"
  | "ERR_FRAME_UNSUPPORTED_FORMAT"
  | "ERR_FRAME_UNSUPPORTED_SAMPLE_RATE"
  | "ERR_FRAME_BAD_SEQUENCE"
  | "ERR_FRAME_BAD_TIMESTAMP"
  | "ERR_FRAME_AUDIO_EMPTY"
  | "ERR_FRAME_AUDIO_MISALIGNED"
  | "ERR_FRAME_AUDIO_TOO_LONG";

export type FrameParse =
  | { readonly ok: true; readonly frame: MediaApiFrame }
  | {
      readonly ok: false;
      readonly code: FrameErrorCode;
      readonly reason: string;
      /** The offending field, when one is to blame. */
      readonly field?: FrameField;
    };

export type FrameField =
  | "conversationId"
  | "participantId"
  | "audio"
  | "format"
  | "sampleRate"
  | "sequenceNumber"
  | "timestamp";

const MAX_ID_CHARS = 128;
// Epoch numbers below this (September 2001 in ms) are almost surely seconds sent by mistake.
const MIN_EPOCH_MS = 1e12;
const MAX_EPOCH_MS = 8.64e15;
const ISO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `timestamp` is either an ISO 8601 date-time with a zone (`2026-01-01T12:00:00.020Z`,
 * `…+01:00`; up to 9 fraction digits, read to the ms) or epoch milliseconds (a number ≥ 1e12).
 */
export function parseTimestamp(value: string | number): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= MIN_EPOCH_MS && value <= MAX_EPOCH_MS ? value : undefined;
  }
  const match = ISO_TIMESTAMP.exec(value);
  if (match === null) return undefined;
  // Date.parse is only specified for up to 3 fraction digits.
  const ms = Date.parse(`${match[1]}.${(match[2] ?? "").padEnd(3, "0").slice(0, 3)}${match[3]}`);
  return Number.isNaN(ms) ? undefined : ms;
}

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_ID_CHARS));

const FrameSchema = v.looseObject({
  conversationId: id,
  participantId: id,
  audio: v.pipe(v.string(), v.base64()),
  format: v.pipe(
    v.string(),
    v.check((format) => normaliseFormat(format) !== undefined),
  ),
  sampleRate: v.pipe(
    v.number(),
    v.check((rate) => (SAMPLE_RATES as readonly number[]).includes(rate)),
  ),
  sequenceNumber: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  timestamp: v.pipe(
    v.union([v.string(), v.number()]),
    v.check((timestamp) => parseTimestamp(timestamp) !== undefined),
  ),
});

/** Per field: its JSON type (for wrong-type reasons) and what a valid value is (for rule failures). */
const FIELD_RULES: Record<FrameField, { type: string; code: FrameErrorCode; rule: string }> = {
  conversationId: { type: "a string", code: "ERR_FRAME_BAD_ID", rule: `1 to ${MAX_ID_CHARS} characters` },
  participantId: { type: "a string", code: "ERR_FRAME_BAD_ID", rule: `1 to ${MAX_ID_CHARS} characters` },
  audio: { type: "a string", code: "ERR_FRAME_BAD_BASE64", rule: "padded standard base64" },
  format: {
    type: "a string",
    code: "ERR_FRAME_UNSUPPORTED_FORMAT",
    rule: "PCMU or L16 (or a spelling in FORMAT_ALIASES)",
  },
  sampleRate: {
    type: "a number",
    code: "ERR_FRAME_UNSUPPORTED_SAMPLE_RATE",
    rule: SAMPLE_RATES.join(" or "),
  },
  sequenceNumber: { type: "a number", code: "ERR_FRAME_BAD_SEQUENCE", rule: "a non-negative integer" },
  timestamp: {
    type: "a string or a number",
    code: "ERR_FRAME_BAD_TIMESTAMP",
    rule: "an ISO 8601 date-time with zone, or epoch milliseconds",
  },
};

export function normaliseFormat(format: string): FrameFormat | undefined {
  const key = format.trim().toLowerCase();
  // hasOwn: "constructor" and friends are not formats.
  return Object.hasOwn(FORMAT_ALIASES, key) ? FORMAT_ALIASES[key] : undefined;
}

/** Parses one text frame; never throws. */
export function parseMediaFrame(text: string, limits: Partial<FrameLimits> = {}): FrameParse {
  const { maxAudioMs, maxFrameChars } = { ...DEFAULT_FRAME_LIMITS, ...limits };
  if (text.length > maxFrameChars) {
    return {
      ok: false,
      code: "ERR_FRAME_TOO_LARGE",
      reason: `frame longer than ${maxFrameChars} characters`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, code: "ERR_FRAME_MALFORMED_JSON", reason: "frame is not valid JSON" };
  }

  // valibot's object schemas take arrays for objects.
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, code: "ERR_FRAME_NOT_OBJECT", reason: "frame is not a JSON object" };
  }
  const result = v.safeParse(FrameSchema, json, { abortEarly: true });
  if (!result.success) return describeIssue(result.issues[0]);
  const input = result.output;

  // Checked by the schema; the casts only restate it.
  const format = normaliseFormat(input.format) as FrameFormat;
  const sampleRate = input.sampleRate as FrameSampleRate;
  const timestampMs = parseTimestamp(input.timestamp) as number;
  if (format === "PCMU" && sampleRate !== 8000) {
    return fieldError("sampleRate", "ERR_FRAME_UNSUPPORTED_SAMPLE_RATE", "PCMU audio is 8000 Hz only");
  }

  const audio = decodeBase64(input.audio);
  const bytesPerSample = format === "L16" ? 2 : 1;
  if (audio.length === 0) return fieldError("audio", "ERR_FRAME_AUDIO_EMPTY", "audio is empty");
  if (audio.length % bytesPerSample !== 0) {
    return fieldError(
      "audio",
      "ERR_FRAME_AUDIO_MISALIGNED",
      `L16 audio has an odd length (${audio.length} bytes)`,
    );
  }
  const samples = audio.length / bytesPerSample;
  const maxSamples = Math.floor((sampleRate * maxAudioMs) / 1000);
  if (samples > maxSamples) {
    return fieldError(
      "audio",
      "ERR_FRAME_AUDIO_TOO_LONG",
      `audio holds ${samples} samples, more than ${maxAudioMs} ms (${maxSamples}) at ${sampleRate} Hz`,
    );
  }

  return {
    ok: true,
    frame: {
      conversationId: input.conversationId,
      participantId: input.participantId,
      format,
      sampleRate,
      sequenceNumber: input.sequenceNumber,
      timestampMs,
      audio,
      samples,
    },
  };
}

function describeIssue(issue: v.BaseIssue<unknown> | undefined): FrameParse {
  const key = issue?.path?.[0]?.key;
  if (issue === undefined || typeof key !== "string" || !Object.hasOwn(FIELD_RULES, key)) {
    // Unreachable while every schema entry has a FIELD_RULES row; kept total rather than thrown.
    return { ok: false, code: "ERR_FRAME_NOT_OBJECT", reason: "frame is not a valid frame object" };
  }
  const field = key as FrameField;
  const rules = FIELD_RULES[field];
  if (issue.kind === "schema") {
    return issue.input === undefined
      ? fieldError(field, "ERR_FRAME_MISSING_FIELD", `missing field ${field}`)
      : fieldError(field, "ERR_FRAME_WRONG_TYPE", `${field} must be ${rules.type}`);
  }
  return fieldError(field, rules.code, `${field} must be ${rules.rule}`);
}

function fieldError(field: FrameField, code: FrameErrorCode, reason: string): FrameParse {
  return { ok: false, code, reason, field };
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
