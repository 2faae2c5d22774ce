import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  Channel,
  TokenSchema,
  type TranscriptResult,
  TranscriptResultSchema,
} from "../../../src/gen/langhook/transcription/v1/transcription_pb";
import {
  confidence,
  MAX_ENTITY_BYTES,
  transcriptEntity,
  transcriptFrame,
  utteranceUuid,
} from "../../../src/transcripts/events";

const dur = (s: number) =>
  create(DurationSchema, { seconds: BigInt(Math.floor(s)), nanos: Math.round((s % 1) * 1e9) });
const SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0";

function result(overrides: Partial<Omit<TranscriptResult, "$typeName">> = {}): TranscriptResult {
  const base = create(TranscriptResultSchema, {
    text: "hola buenos días",
    utteranceId: "utt-7",
    channel: Channel.INTERNAL,
    isFinal: true,
    offset: dur(1.25),
    duration: dur(2.5),
    confidence: 0.87,
    language: "es-ES",
    sequenceNumber: 3n,
  });
  return { ...base, ...overrides };
}

describe("transcript entities", () => {
  it("index channelId into the negotiated channels and put the utterance on the stream timeline", async () => {
    const entity = await transcriptEntity(result(), ["external", "internal"], SESSION, "en-US");
    expect(entity).toMatchObject({
      type: "transcript",
      data: {
        channelId: 1,
        isFinal: true,
        offset: "PT1.25S",
        duration: "PT2.5S",
        alternatives: [
          {
            confidence: 0.87,
            languages: ["es-ES"],
            interpretations: [{ type: "display", transcript: "hola buenos días" }],
          },
        ],
      },
    });
    expect(entity?.data.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const swapped = await transcriptEntity(result(), ["internal", "external"], SESSION, "en-US");
    expect(swapped?.data.channelId).toBe(0);
    expect(await transcriptEntity(result(), ["external"], SESSION, "en-US")).toBeNull();
  });

  it("maps an engine utterance id to a stable UUID, and keeps one that is already a UUID", async () => {
    expect(await utteranceUuid(SESSION, "utt-7")).toBe(await utteranceUuid(SESSION, "utt-7"));
    expect(await utteranceUuid(SESSION, "utt-7")).not.toBe(await utteranceUuid(SESSION, "utt-8"));
    expect(await utteranceUuid(SESSION, "883EFEE8-3D6C-4537-B500-6D7CA4B92FA0")).toBe(
      "883efee8-3d6c-4537-b500-6d7ca4b92fa0",
    );
  });

  it("marks a derived UUID as version 8 (SHA-256), not version 5 (which means SHA-1)", async () => {
    const { createHash } = await import("node:crypto");
    const digest = createHash("sha256").update(`${SESSION}/utt-7`).digest();
    digest[6] = ((digest[6] as number) & 0x0f) | 0x80;
    digest[8] = ((digest[8] as number) & 0x3f) | 0x80;
    const hex = digest.subarray(0, 16).toString("hex");
    const expected = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const uuid = await utteranceUuid(SESSION, "utt-7");
    expect(uuid).toBe(expected);
    expect(uuid[14]).toBe("8");
  });

  it("rounds float32 confidences to 3 decimals, in entities and media-api frames", async () => {
    // What a float32 0.9 reads as once it is a double, as it arrives from the wire.
    const f32 = Math.fround(0.9);
    expect(f32).toBe(0.8999999761581421);
    const tokens = [create(TokenSchema, { value: "hola", confidence: Math.fround(0.8765) })];
    const r = result({ confidence: f32, languageConfidence: Math.fround(0.35), tokens });
    const entity = await transcriptEntity(r, ["internal"], SESSION, "es-ES");
    expect(entity?.data.alternatives[0]?.confidence).toBe(0.9);
    expect(entity?.data.alternatives[0]?.interpretations[0]?.tokens?.[0]?.confidence).toBe(0.877);
    const frame = transcriptFrame(r, "es-ES");
    expect(frame.confidence).toBe(0.9);
    expect(frame.languageConfidence).toBe(0.35);
    expect((frame.tokens as { confidence: number }[])[0]?.confidence).toBe(0.877);
    expect(confidence(Number.NaN)).toBe(0);
    expect(confidence(1.7)).toBe(1);
  });

  it("falls back to the audio's language and carries word tokens", async () => {
    const tokens = [
      create(TokenSchema, { value: "hola", confidence: 0.9, offset: dur(1.25), duration: dur(0.4) }),
    ];
    const entity = await transcriptEntity(result({ language: "", tokens }), ["internal"], SESSION, "es-MX");
    expect(entity?.data.alternatives[0]?.languages).toEqual(["es-MX"]);
    expect(entity?.data.alternatives[0]?.interpretations[0]?.tokens).toEqual([
      {
        type: "word",
        value: "hola",
        confidence: 0.9,
        offset: "PT1.25S",
        duration: "PT0.4S",
        language: "es-MX",
      },
    ]);
  });

  it("stays under the event size limit by dropping tokens, then shortening text", async () => {
    const tokens = Array.from({ length: 3000 }, (_, i) =>
      create(TokenSchema, { value: `word${i}`, confidence: 0.5 }),
    );
    const entity = await transcriptEntity(
      result({ text: "x".repeat(100_000), tokens }),
      ["internal"],
      SESSION,
      "en-US",
    );
    const size = new TextEncoder().encode(JSON.stringify(entity)).length;
    expect(size).toBeLessThanOrEqual(MAX_ENTITY_BYTES);
    expect(entity?.data.alternatives[0]?.interpretations[0]?.tokens).toBeUndefined();
    expect(entity?.data.alternatives[0]?.interpretations[0]?.transcript.length).toBeGreaterThan(50_000);
  });
});
