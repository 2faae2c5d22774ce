import { describe, expect, it } from "vitest";
import {
  FORMAT_ALIASES,
  type FrameParse,
  parseMediaFrame,
  parseTimestamp,
} from "../../../src/mediaapi/frames";

const TS = "2026-01-01T12:00:00.020Z";
const TS_MS = Date.UTC(2026, 0, 1, 12, 0, 0, 20);

function b64(bytes: number): string {
  return Buffer.alloc(bytes, 0x7f).toString("base64");
}

const good = {
  conversationId: "8a3f2c1e-0000-4000-8000-000000000001",
  participantId: "p-1",
  audio: b64(160),
  format: "PCMU",
  sampleRate: 8000,
  sequenceNumber: 0,
  timestamp: TS,
};

function parse(overrides: Record<string, unknown>): FrameParse {
  return parseMediaFrame(JSON.stringify({ ...good, ...overrides }));
}

function without(field: keyof typeof good): FrameParse {
  const { [field]: _, ...rest } = good;
  return parseMediaFrame(JSON.stringify(rest));
}

describe("parseMediaFrame accepts", () => {
  it("a PCMU frame, decoding the audio", () => {
    const result = parseMediaFrame(JSON.stringify(good));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.frame).toMatchObject({
      conversationId: good.conversationId,
      participantId: "p-1",
      format: "PCMU",
      sampleRate: 8000,
      sequenceNumber: 0,
      timestampMs: TS_MS,
      samples: 160,
    });
    expect(result.frame.audio).toEqual(new Uint8Array(160).fill(0x7f));
  });

  it("L16 at 16 kHz, counting two bytes a sample", () => {
    const result = parse({ format: "L16", sampleRate: 16000, audio: b64(640) });
    expect(result).toMatchObject({ ok: true, frame: { format: "L16", sampleRate: 16000, samples: 320 } });
  });

  it("every listed format spelling, in any case and with spaces", () => {
    for (const [alias, format] of Object.entries(FORMAT_ALIASES)) {
      for (const spelling of [alias, alias.toUpperCase(), ` ${alias} `]) {
        expect(parse({ format: spelling }), spelling).toMatchObject({ ok: true, frame: { format } });
      }
    }
    expect(Object.keys(FORMAT_ALIASES)).toEqual(
      expect.arrayContaining([
        "pcmu",
        "audio/pcmu",
        "mulaw",
        "ulaw",
        "mu-law",
        "l16",
        "audio/l16",
        "pcm16",
        "linear16",
      ]),
    );
  });

  it("epoch-millisecond and offset timestamps, and ignores unknown fields", () => {
    expect(parse({ timestamp: TS_MS })).toMatchObject({ ok: true, frame: { timestampMs: TS_MS } });
    expect(parse({ timestamp: "2026-01-01T13:00:00.020+01:00" })).toMatchObject({
      frame: { timestampMs: TS_MS },
    });
    expect(parse({ extra: { nested: true } }).ok).toBe(true);
  });

  it("exactly the audio limit (1 s), and a custom limit", () => {
    expect(parse({ audio: b64(8000) }).ok).toBe(true);
    expect(parse({ format: "L16", sampleRate: 16000, audio: b64(32000) }).ok).toBe(true);
    expect(parseMediaFrame(JSON.stringify(good), { maxAudioMs: 10 })).toMatchObject({
      code: "ERR_FRAME_AUDIO_TOO_LONG",
    });
  });
});

describe("parseMediaFrame rejects, saying why", () => {
  it("text that is not JSON, or JSON that is not an object", () => {
    expect(parseMediaFrame("{nope")).toMatchObject({ ok: false, code: "ERR_FRAME_MALFORMED_JSON" });
    for (const text of ["[]", "null", "42", '"frame"']) {
      expect(parseMediaFrame(text)).toMatchObject({ ok: false, code: "ERR_FRAME_NOT_OBJECT" });
    }
  });

  it("a frame over the size limit, before parsing it", () => {
    expect(parseMediaFrame(" ".repeat(70_000))).toMatchObject({ code: "ERR_FRAME_TOO_LARGE" });
  });

  it("each missing field by name", () => {
    for (const field of Object.keys(good) as (keyof typeof good)[]) {
      expect(without(field)).toEqual({
        ok: false,
        code: "ERR_FRAME_MISSING_FIELD",
        reason: `missing field ${field}`,
        field,
      });
    }
  });

  it("each wrong type by name", () => {
    const wrong: Record<keyof typeof good, unknown> = {
      conversationId: 1,
      participantId: null,
      audio: [1, 2],
      format: 0,
      sampleRate: "8000",
      sequenceNumber: "1",
      timestamp: true,
    };
    for (const [field, value] of Object.entries(wrong)) {
      expect(parse({ [field]: value })).toMatchObject({ ok: false, code: "ERR_FRAME_WRONG_TYPE", field });
    }
    expect(parse({ sampleRate: "8000" })).toMatchObject({ reason: "sampleRate must be a number" });
  });

  it("bad ids", () => {
    expect(parse({ conversationId: "" })).toMatchObject({
      code: "ERR_FRAME_BAD_ID",
      field: "conversationId",
    });
    expect(parse({ participantId: "x".repeat(129) })).toMatchObject({ code: "ERR_FRAME_BAD_ID" });
  });

  it("bad base64", () => {
    for (const audio of ["not base64!", "AAA", "AA==AA==", "-_-_"]) {
      expect(parse({ audio }), audio).toMatchObject({ code: "ERR_FRAME_BAD_BASE64", field: "audio" });
    }
  });

  it("unsupported formats", () => {
    for (const format of ["opus", "PCMA", "audio/L16;rate=16000", "constructor", ""]) {
      expect(parse({ format }), format).toMatchObject({
        code: "ERR_FRAME_UNSUPPORTED_FORMAT",
        field: "format",
      });
    }
  });

  it("unsupported sample rates, and PCMU at 16 kHz", () => {
    expect(parse({ sampleRate: 44100 })).toMatchObject({ code: "ERR_FRAME_UNSUPPORTED_SAMPLE_RATE" });
    expect(parse({ sampleRate: 16000 })).toMatchObject({
      code: "ERR_FRAME_UNSUPPORTED_SAMPLE_RATE",
      reason: "PCMU audio is 8000 Hz only",
    });
  });

  it("sequence numbers that are negative, fractional or unsafe", () => {
    for (const sequenceNumber of [-1, 1.5, 2 ** 53]) {
      expect(parse({ sequenceNumber })).toMatchObject({
        code: "ERR_FRAME_BAD_SEQUENCE",
        field: "sequenceNumber",
      });
    }
  });

  it("timestamps without a zone, unparsable, or in epoch seconds", () => {
    for (const timestamp of ["2026-01-01T12:00:00", "2026-13-01T12:00:00Z", "yesterday", TS_MS / 1000, -1]) {
      expect(parse({ timestamp }), String(timestamp)).toMatchObject({ code: "ERR_FRAME_BAD_TIMESTAMP" });
    }
  });

  it("empty audio, odd-length L16, and audio over 1 s", () => {
    expect(parse({ audio: "" })).toMatchObject({ code: "ERR_FRAME_AUDIO_EMPTY" });
    expect(parse({ format: "L16", audio: b64(321) })).toMatchObject({ code: "ERR_FRAME_AUDIO_MISALIGNED" });
    expect(parse({ audio: b64(8001) })).toMatchObject({ code: "ERR_FRAME_AUDIO_TOO_LONG" });
    expect(parse({ format: "L16", audio: b64(16002) })).toMatchObject({ code: "ERR_FRAME_AUDIO_TOO_LONG" });
  });
});

describe("parseTimestamp", () => {
  it("reads ISO to the millisecond, whatever the fraction length", () => {
    expect(parseTimestamp("2026-01-01T12:00:00Z")).toBe(Date.UTC(2026, 0, 1, 12));
    expect(parseTimestamp("2026-01-01T12:00:00.02Z")).toBe(TS_MS);
    expect(parseTimestamp("2026-01-01T12:00:00.020999999Z")).toBe(TS_MS);
  });
});
