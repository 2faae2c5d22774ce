// The pure parts of the bridge: naming the seed streams, converting chunks, placing results on the timeline,
// reading the seed's language_confidence string, and the configuration.
import { create } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  AudioChunkSchema,
  AudioFormat,
  Channel,
} from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { TranscriptResultSchema as SeedResultSchema } from "../../../src/gen/seed/transcription_pb.js";
import { parseBridgeConfig } from "../../../tools/bridge/config.js";
import {
  ChunkError,
  parseLanguageConfidence,
  participantOf,
  Timeline,
  toLanghookResult,
  toSeedChunk,
} from "../../../tools/bridge/mapping.js";

const chunk = (
  seq: number,
  fields: Partial<{ language: string; format: AudioFormat; samples: number }> = {},
) =>
  create(AudioChunkSchema, {
    sessionId: "s",
    channel: Channel.EXTERNAL,
    sequenceNumber: BigInt(seq),
    position: BigInt((seq - 1) * 800),
    sampleRate: 8000,
    audioFormat: fields.format ?? AudioFormat.L16,
    audioData: new Uint8Array((fields.samples ?? 800) * (fields.format === AudioFormat.PCMU ? 1 : 2)),
    languageCode: fields.language ?? "es-ES",
  });

describe("seed streams and chunks", () => {
  it("names the customer's stream by participant id and the agent's by the configured name", () => {
    expect(participantOf(Channel.EXTERNAL, "cust-1", { agent: "agent" })).toBe("cust-1");
    expect(participantOf(Channel.EXTERNAL, "", { agent: "agent" })).toBe("customer");
    expect(participantOf(Channel.INTERNAL, "cust-1", { agent: "queue-agent" })).toBe("queue-agent");
  });

  it("keeps the sequence number and names the audio format, refusing what int32 cannot hold", () => {
    const seed = toSeedChunk(chunk(7, { format: AudioFormat.PCMU }), {
      conversationId: "c",
      participantId: "p",
    });
    expect(seed).toMatchObject({
      sequenceNumber: 7,
      audioFormat: "PCMU",
      sampleRate: 8000,
      languageCode: "es-ES",
    });
    const big = chunk(1);
    big.sequenceNumber = 2n ** 31n;
    expect(() => toSeedChunk(big, { conversationId: "c", participantId: "p" })).toThrow(ChunkError);
  });
});

describe("Timeline", () => {
  it("places a text result from the first chunk after the previous one to the end of its own", () => {
    const t = new Timeline();
    for (let s = 1; s <= 8; s++) t.add(chunk(s, { language: s <= 6 ? "es-ES" : "en-US" }));
    expect(t.close(3)).toMatchObject({
      fromSequence: 1,
      toSequence: 3,
      offsetMs: 0,
      durationMs: 300,
      language: "es-ES",
    });
    // Most of 4..8 is es-ES (4, 5, 6) against en-US (7, 8).
    expect(t.close(8)).toMatchObject({
      fromSequence: 4,
      toSequence: 8,
      offsetMs: 300,
      durationMs: 500,
      language: "es-ES",
    });
    // A repeated acknowledgement covers nothing new: an empty span where the last ended.
    expect(t.close(8)).toMatchObject({ offsetMs: 800, durationMs: 0 });
  });

  it("counts a gap as part of the utterance's place but not its audio", () => {
    const t = new Timeline();
    t.add(chunk(1));
    t.add(chunk(4));
    expect(t.close(4)).toMatchObject({ offsetMs: 0, durationMs: 400 });
  });
});

describe("results", () => {
  it("reads language_confidence as an identification only when it names a language", () => {
    expect(parseLanguageConfidence("es-ES")).toEqual({ language: "es-ES", confidence: 1 });
    expect(parseLanguageConfidence("pt-BR:0.82")).toEqual({ language: "pt-BR", confidence: 0.82 });
    expect(parseLanguageConfidence("fr-FR 0.5")).toEqual({ language: "fr-FR", confidence: 0.5 });
    expect(parseLanguageConfidence("0.93")).toBeNull();
    expect(parseLanguageConfidence("")).toBeNull();
    expect(parseLanguageConfidence("es-ES:7")).toBeNull();
  });

  it("maps text, language, channel and the span to a final langhook result", () => {
    const seed = create(SeedResultSchema, { text: "hola", languageConfidence: "", sequenceNumber: 5 });
    const span = { fromSequence: 3, toSequence: 5, offsetMs: 200, durationMs: 300, language: "es-ES" };
    const r = toLanghookResult(seed, span, Channel.INTERNAL, {
      sessionId: "s",
      conversationId: "c",
      resultSequence: 4,
    });
    expect(r).toMatchObject({
      text: "hola",
      language: "es-ES",
      languageConfidence: 0,
      channel: Channel.INTERNAL,
      isFinal: true,
      sequenceNumber: 4n,
      utteranceId: "internal-3-5",
    });
    expect(r.offset && durationMs(r.offset)).toBe(200);
    expect(r.duration && durationMs(r.duration)).toBe(300);
    const identified = toLanghookResult(
      create(SeedResultSchema, { text: "olá", languageConfidence: "pt-BR:0.9", sequenceNumber: 5 }),
      span,
      Channel.EXTERNAL,
      { sessionId: "s", conversationId: "c", resultSequence: 5 },
    );
    expect(identified).toMatchObject({ language: "pt-BR", languageConfidence: 0.9 });
  });
});

describe("parseBridgeConfig", () => {
  it("takes flags over the environment, with defaults", () => {
    const parsed = parseBridgeConfig(["--port", "9000"], {
      BRIDGE_UPSTREAM_URL: "https://stt.internal:443/",
      BRIDGE_PORT: "1",
      BRIDGE_ACK: "received",
    });
    expect(parsed).toMatchObject({
      ok: true,
      config: {
        port: 9000,
        upstreamUrl: "https://stt.internal:443",
        ackMode: "received",
        ackWaitMs: 1000,
        agentParticipantId: "agent",
      },
    });
  });

  it("names every bad setting at once", () => {
    const parsed = parseBridgeConfig(["--ack", "never", "--port", "x", "--tls-cert", "c.pem"], {});
    expect(parsed.ok).toBe(false);
    const error = parsed.ok === false ? parsed.error : "";
    expect(error).toMatch(/--upstream \/ BRIDGE_UPSTREAM_URL is required/);
    expect(error).toMatch(/--ack \/ BRIDGE_ACK must be upstream or received \(got "never"\)/);
    expect(error).toMatch(/--port \/ BRIDGE_PORT must be an integer from 0 to 65535 \(got "x"\)/);
    expect(error).toMatch(/--tls-cert and --tls-key go together/);
    expect(parseBridgeConfig(["--nope"], {})).toMatchObject({
      ok: false,
      error: expect.stringMatching(/nope/),
    });
  });
});
