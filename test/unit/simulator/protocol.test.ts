import { describe, expect, it } from "vitest";
import type { CallPhase, CallResult } from "../../../tools/simulator/call";
import { position } from "../../../tools/simulator/call";
import { checkServerMessage, transcriptsOf } from "../../../tools/simulator/protocol";
import { formatSummary, progressLine, summarize } from "../../../tools/simulator/summary";

const SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0";
const expected = { sessionId: SESSION, lastServerSeq: 1, lastClientSeq: 4 };
const message = (fields: Record<string, unknown>) =>
  JSON.stringify({
    version: "2",
    id: SESSION,
    type: "pong",
    seq: 2,
    clientseq: 3,
    parameters: {},
    ...fields,
  });

describe("server message checks", () => {
  it("accepts a well-formed message", () => {
    const { message: m, errors } = checkServerMessage(message({}), expected);
    expect(errors).toEqual([]);
    expect(m).toMatchObject({ type: "pong", seq: 2, clientseq: 3 });
  });

  it("names each way a message breaks the protocol", () => {
    const errorsOf = (fields: Record<string, unknown>) =>
      checkServerMessage(message(fields), expected).errors;
    expect(errorsOf({ seq: 3 })).toEqual(["pong: seq 3 after 1"]);
    expect(errorsOf({ clientseq: 5 })).toEqual(["pong: clientseq 5 but we sent up to 4"]);
    expect(errorsOf({ parameters: undefined })).toEqual(["pong: parameters missing or not an object"]);
    expect(errorsOf({ version: "1" })).toEqual(['pong: version "1", want "2"']);
    expect(errorsOf({ id: "other" })).toEqual(['pong: id "other" is not the session\'s']);
    expect(errorsOf({ type: "hello" })).toEqual(['unknown message type "hello"']);
    expect(checkServerMessage("{oops", expected)).toEqual({ message: null, errors: ["not JSON: {oops"] });
    expect(checkServerMessage("[1]", expected).errors).toEqual(["message is not a JSON object"]);
  });

  it("reads transcripts and checks channel ids and durations", () => {
    const event = (data: Record<string, unknown>) =>
      checkServerMessage(
        message({ type: "event", parameters: { entities: [{ type: "transcript", data }] } }),
        expected,
      ).message as NonNullable<ReturnType<typeof checkServerMessage>["message"]>;
    const good = {
      id: "f5bd6a37-8a1b-4a9b-8d5b-2b8a9b3f6f0e",
      channelId: 1,
      isFinal: true,
      offset: "PT1.2S",
      duration: "PT0.8S",
      alternatives: [
        { confidence: 0.9, languages: ["es-ES"], interpretations: [{ type: "display", transcript: "hola" }] },
      ],
    };
    expect(transcriptsOf(event(good), 2)).toEqual({
      transcripts: [
        {
          channelId: 1,
          isFinal: true,
          offset: "PT1.2S",
          duration: "PT0.8S",
          languages: ["es-ES"],
          text: "hola",
        },
      ],
      errors: [],
    });
    expect(transcriptsOf(event(good), 1).errors).toEqual(["transcript: channelId 1 with 1 channel(s)"]);
    expect(transcriptsOf(event({ ...good, offset: "1.2" }), 2).errors).toEqual([
      'transcript: offset "1.2" is not a PTnS duration',
    ]);
    expect(transcriptsOf(event({ ...good, alternatives: [] }), 2).errors).toEqual([
      "transcript: no alternatives",
    ]);
  });

  it("writes positions as AudioHook durations", () => {
    expect(position(0)).toBe("PT0S");
    expect(position(8000)).toBe("PT1S");
    expect(position(12_345)).toBe("PT1.543S");
  });
});

const result = (overrides: Partial<CallResult>): CallResult => ({
  sessionId: crypto.randomUUID(),
  ok: true,
  failure: null,
  protocolErrors: [],
  connectMs: 5,
  openedMs: 10,
  pongMs: [1, 2],
  pingsUnanswered: 0,
  transcripts: 3,
  finalTranscripts: 2,
  languages: ["en-US"],
  framesSent: 50,
  samplesSent: 8000,
  disconnect: null,
  durationMs: 1000,
  ...overrides,
});

describe("run summary", () => {
  it("adds calls up: failures by reason, latencies over all calls, tags, protocol errors", () => {
    const summary = summarize(
      [
        result({}),
        result({ openedMs: 30, pongMs: [3], languages: ["es-ES", "en-US"] }),
        result({ ok: false, failure: "disconnected: error", openedMs: null, pongMs: [], transcripts: 0 }),
        result({ ok: false, protocolErrors: ["pong: seq 3 after 1", "pong: seq 3 after 1"] }),
      ],
      2,
    );
    expect(summary).toMatchObject({
      calls: 4,
      ok: 2,
      failed: 2,
      failures: { "disconnected: error": 1 },
      openedMs: { count: 3, p50: 10, p99: 30 },
      pongMs: { count: 5, p50: 2, p99: 3 },
      transcripts: 9,
      languages: ["en-US", "es-ES"],
      protocolErrors: 2,
      protocolErrorKinds: { "pong: seq 3 after 1": 2 },
      audioSeconds: 8,
    });
    const text = formatSummary(summary).join("\n");
    expect(text).toMatch(/calls: 4 \(2 ok, 2 failed\)/);
    expect(text).toMatch(/protocol errors: 2\n {2}2× pong: seq 3 after 1/);
    expect(text).toMatch(/failed: 1× disconnected: error/);
  });

  it("shows progress by phase", () => {
    const live = (phase: CallPhase, samplesSent: number) => ({
      phase,
      samplesSent,
      transcripts: 1,
      protocolErrors: [],
      pongMs: [4],
    });
    const line = progressLine([live("streaming", 8000), live("opening", 0), live("done", 16_000)], 3000);
    expect(line).toBe(
      "3 s | 1 streaming | 1 starting | 1 done | 0 failed | 3.0 s audio/channel | 3 transcripts | pong p99 4.0 ms | 0 protocol errors",
    );
  });
});
