// The protocol state machine in plain Node: transitions, sequence numbers and positions.

import { describe, expect, it } from "vitest";
import {
  formatDuration,
  MAX_DURATION_SECONDS,
  parseDuration,
  samplesToDuration,
} from "../../../src/audiohook/duration";
import { type ClientMessage, parseClientMessage } from "../../../src/audiohook/messages";
import {
  acknowledgeClose,
  disconnect,
  type Effect,
  type Endpoint,
  initialState,
  onAudio,
  onInvalidMessage,
  onMessage,
  type ProtocolLimits,
  requestFlow,
  type SessionState,
  sendEvent,
} from "../../../src/audiohook/session";

const SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0";
const ORG = "d7934305-0972-4844-938e-9060eef73d05";
const LIMITS: ProtocolLimits = { maxFrameSamples: 8000, supportedLanguages: ["en-US", "es-ES"] };

function msg(
  type: string,
  seq: number,
  parameters: Record<string, unknown> = {},
  position = "PT0S",
  serverseq = 0,
): ClientMessage {
  const parsed = parseClientMessage(
    JSON.stringify({ version: "2", id: SESSION, type, seq, serverseq, position, parameters }),
  );
  if (!parsed.ok) throw new Error(parsed.error.info);
  return parsed.message;
}

const OPEN = {
  organizationId: ORG,
  conversationId: "090eaa2f-72fa-480a-83e0-8667ff89c0ec",
  participant: {
    id: "883efee8-3d6c-4537-b500-6d7ca4b92fa0",
    ani: "+1-555-555-1234",
    aniName: "John Doe",
    dnis: "+1-800-555-6789",
  },
  media: [{ type: "audio", format: "PCMU", channels: ["external", "internal"], rate: 8000 }],
  language: "en-US",
};

/** A session before `open`, as the worker creates it for an upgrade to `endpoint`. */
function fresh(endpoint: Endpoint = "monitor"): SessionState {
  return initialState({ sessionId: SESSION, organizationId: ORG, correlationId: SESSION, endpoint });
}

function opened(): SessionState {
  const start = fresh("transcription");
  return onMessage(start, msg("open", 1, OPEN), LIMITS).state;
}

const sends = (effects: Effect[]) => effects.flatMap((e) => (e.type === "send" ? [e.message] : []));

describe("durations", () => {
  it("parses and formats seconds-only ISO durations", () => {
    expect(parseDuration("PT4.25S")).toBe(4.25);
    expect(parseDuration("PT0S")).toBe(0);
    expect(parseDuration("PT.5S")).toBe(0.5);
    expect(parseDuration("PT1M")).toBeUndefined();
    expect(parseDuration("P1DT1S")).toBeUndefined();
    expect(formatDuration(12.34)).toBe("PT12.34S");
    expect(formatDuration(3)).toBe("PT3S");
    expect(samplesToDuration(12_000, 8000)).toBe("PT1.5S");
  });

  it("refuses durations that are infinite or longer than 24 h", () => {
    expect(parseDuration(`PT${"9".repeat(400)}S`)).toBeUndefined();
    expect(parseDuration("PT3000000000000000S")).toBeUndefined();
    expect(parseDuration(`PT${MAX_DURATION_SECONDS}S`)).toBe(86_400);
    expect(parseDuration(`PT${MAX_DURATION_SECONDS}.001S`)).toBeUndefined();
    // A long fraction is still a small number.
    expect(parseDuration(`PT1.${"5".repeat(400)}S`)).toBeCloseTo(1.5556, 4);
  });
});

describe("positions out of bounds", () => {
  it("a seq or serverseq past 2^53 fails validation (1e308 is an integer to JavaScript)", () => {
    for (const [seq, serverseq] of [
      [1e308, 0],
      [2 ** 53, 0],
      [1, 1e308],
    ]) {
      const parsed = parseClientMessage(
        JSON.stringify({
          version: "2",
          id: SESSION,
          type: "close",
          seq,
          serverseq,
          position: "PT0S",
          parameters: {},
        }),
      );
      expect(parsed).toMatchObject({
        ok: false,
        error: { code: "bad-envelope", info: expect.stringMatching(/below 2\^53/) },
      });
    }
  });

  it("a message carrying an over-long duration fails validation with an info", () => {
    const parsed = parseClientMessage(
      JSON.stringify({
        version: "2",
        id: SESSION,
        type: "discarded",
        seq: 2,
        serverseq: 1,
        position: "PT0S",
        parameters: { start: "PT0S", discarded: "PT3000000000000000S" },
      }),
    );
    expect(parsed).toEqual({
      ok: false,
      error: {
        code: "bad-parameters",
        info: "discarded.parameters.discarded: expected a duration of at most PT86400S (24 h)",
      },
    });
  });

  it("a discarded span or resumed gap ending past 24 h ends the call with disconnect error", () => {
    for (const message of [
      msg("discarded", 2, { start: "PT86000S", discarded: "PT401S" }, "PT1S", 1),
      msg("resumed", 2, { start: "PT1S", discarded: "PT86400S" }, "PT1S", 1),
    ]) {
      // A second of audio received, so a resumed gap of 24 h ends past the bound.
      const t = onMessage({ ...opened(), positionSamples: 8000, receivedSamples: 8000 }, message, LIMITS);
      expect(t.state.phase).toBe("disconnecting");
      expect(t.state.positionSamples).toBe(8000);
      expect(sends(t.effects)).toMatchObject([
        {
          type: "disconnect",
          parameters: { reason: "error", info: expect.stringMatching(/past the 24 h maximum/) },
        },
      ]);
      expect(
        t.effects.some((e) => e.type === "audio" || (e.type === "boundary" && e.reason === "discarded")),
      ).toBe(false);
    }
  });

  it("audio that would carry the timeline past 24 h ends the call", () => {
    const near = { ...opened(), positionSamples: MAX_DURATION_SECONDS * 8000 - 80 };
    const ok = onAudio(near, new Uint8Array(160), LIMITS);
    expect(ok.effects.map((e) => e.type)).toEqual(["audio"]);
    // 8 stereo samples: 1 ms past the bound.
    const over = onAudio(ok.state, new Uint8Array(16), LIMITS);
    expect(sends(over.effects)[0]).toMatchObject({
      type: "disconnect",
      parameters: { info: "audio reaches 86400.001 s, past the 24 h maximum of a call's timeline" },
    });
  });
});

describe("protocol state machine", () => {
  it("answers open with opened echoing the chosen offer, and starts the call", () => {
    const start = fresh();
    const t = onMessage(start, msg("open", 1, { ...OPEN, supportedLanguages: true }), LIMITS);
    const [openedMsg] = sends(t.effects);
    expect(openedMsg).toEqual({
      version: "2",
      id: SESSION,
      type: "opened",
      seq: 1,
      clientseq: 1,
      parameters: { media: OPEN.media, supportedLanguages: ["en-US", "es-ES"] },
    });
    expect(t.effects.find((e) => e.type === "start")).toMatchObject({
      call: { probe: false, language: "en-US" },
    });
    expect(t.state.phase).toBe("open");
    // The input state is not mutated: transitions are pure.
    expect(start.phase).toBe("awaiting-open");
  });

  it("marks a probe (all-zero conversation id)", () => {
    const start = fresh();
    const t = onMessage(
      start,
      msg("open", 1, { ...OPEN, conversationId: "00000000-0000-0000-0000-000000000000" }),
      LIMITS,
    );
    expect(t.state.probe).toBe(true);
  });

  it("pongs with clientseq equal to the ping's seq and counts server seq", () => {
    let s = opened();
    const t = onMessage(s, msg("ping", 2, {}, "PT0S", 1), LIMITS);
    expect(sends(t.effects)[0]).toMatchObject({ type: "pong", seq: 2, clientseq: 2, parameters: {} });
    s = t.state;
    expect(s.serverSeq).toBe(2);
  });

  it("advances the position by the samples received and by discarded spans", () => {
    let s = opened();
    const frame = new Uint8Array(2 * 1600);
    let t = onAudio(s, frame, LIMITS);
    expect(t.effects[0]).toMatchObject({ type: "audio", chunk: { startSample: 0 } });
    s = t.state;
    t = onMessage(s, msg("discarded", 2, { start: "PT0.2S", discarded: "PT1S" }, "PT1.2S", 1), LIMITS);
    // Missing audio, not an utterance end: no boundary; the next chunk's place shows the gap.
    expect(t.effects.map((e) => e.type)).toEqual([]);
    s = t.state;
    t = onAudio(s, frame, LIMITS);
    expect(t.effects[0]).toMatchObject({ type: "audio", chunk: { startSample: 1600 + 8000 } });
    expect(t.state).toMatchObject({ positionSamples: 1600 + 8000 + 1600, receivedSamples: 3200 });
  });

  it("adopts a client position ahead of its own (unannounced gap) but refuses one behind", () => {
    let s = onAudio(opened(), new Uint8Array(2 * 800), LIMITS).state;
    const ahead = onMessage(s, msg("ping", 2, {}, "PT0.5S", 1), LIMITS);
    expect(ahead.state.positionSamples).toBe(4000);
    s = ahead.state;
    const behind = onMessage(s, msg("ping", 3, {}, "PT0.01S", 2), LIMITS);
    expect(sends(behind.effects)[0]).toMatchObject({ type: "disconnect", parameters: { reason: "error" } });
  });

  it("update changes the language for what follows and ends the utterance in progress", () => {
    const t = onMessage(opened(), msg("update", 2, { language: "es-ES" }), LIMITS);
    expect(t.effects).toEqual([
      { type: "boundary", reason: "update", positionSamples: 0 },
      { type: "language", language: "es-ES" },
    ]);
    expect(t.state.language).toBe("es-ES");
    expect(sends(t.effects)).toEqual([]);
  });

  it("close flushes, then answers closed with the next server seq", () => {
    const t = onMessage(opened(), msg("close", 2, { reason: "end" }), LIMITS);
    expect(t.effects.map((e) => e.type)).toEqual(["boundary", "cancel-close", "flush", "acknowledge-close"]);
    expect(t.state.phase).toBe("closing");
    // An event produced by the flush goes out before closed, and closed follows it in sequence.
    const event = sendEvent(t.state, [{ type: "transcript", data: {} }]);
    const closed = acknowledgeClose(event.state);
    expect(sends(event.effects)[0]).toMatchObject({ type: "event", seq: 2 });
    expect(sends(closed.effects)[0]).toMatchObject({ type: "closed", seq: 3, clientseq: 2, parameters: {} });
    expect(closed.state.phase).toBe("closed");
  });

  it("after its own disconnect it still answers close and ping, and ignores the rest", () => {
    let s = disconnect(opened(), "error", "transcription service refused our credentials").state;
    expect(s.phase).toBe("disconnecting");
    expect(onMessage(s, msg("update", 2, { language: "fr-FR" }, "PT0S", 2), LIMITS).effects).toEqual([]);
    s = onMessage(s, msg("update", 2, {}, "PT0S", 2), LIMITS).state;
    const t = onMessage(s, msg("close", 3, { reason: "disconnect" }, "PT0S", 2), LIMITS);
    expect(t.effects.map((e) => e.type)).toEqual(["cancel-close", "flush", "acknowledge-close"]);
    expect(sends(acknowledgeClose(t.state).effects).map((m) => m.type)).toEqual(["closed"]);
  });

  it("asks the client to pause and resume, numbering the requests like any server message", () => {
    const pause = requestFlow(opened(), "pause");
    expect(sends(pause.effects)[0]).toMatchObject({ type: "pause", seq: 2, clientseq: 1, parameters: {} });
    expect(sends(requestFlow(pause.state, "resume").effects)[0]).toMatchObject({ type: "resume", seq: 3 });
    const start = fresh();
    expect(requestFlow(start, "pause").effects).toEqual([]);
  });

  it("events go out only while the call is open", () => {
    expect(sends(sendEvent(opened(), [{ type: "transcript", data: {} }]).effects)[0]).toMatchObject({
      type: "event",
    });
    const closed = acknowledgeClose(onMessage(opened(), msg("close", 2, {}), LIMITS).state).state;
    expect(sendEvent(closed, []).effects).toEqual([]);
  });

  it("after a disconnect for a refused message, answers the client's close numbered past it", () => {
    // seq 2 is refused (bad parameters): the client counts it, we do not, so its close comes as seq 3.
    const refused = onInvalidMessage(opened(), {
      code: "bad-parameters",
      info: "discarded.parameters.start",
    });
    expect(refused.state.phase).toBe("disconnecting");
    expect(refused.state.clientSeq).toBe(1);
    const close = onMessage(refused.state, msg("close", 3, { reason: "disconnect" }, "PT0S", 2), LIMITS);
    expect(close.state.clientSeq).toBe(3);
    expect(sends(acknowledgeClose(close.state).effects)).toMatchObject([
      { type: "closed", seq: 3, clientseq: 3 },
    ]);
    // Its position may be as wrong as what caused the disconnect: still answered.
    const behind = { ...refused.state, receivedSamples: 8000, positionSamples: 8000 };
    expect(onMessage(behind, msg("close", 3, {}, "PT0S", 2), LIMITS).state.phase).toBe("closing");
    // Anything else out of order is still ignored, and a close behind ours is not taken.
    expect(sends(onMessage(refused.state, msg("ping", 3, {}, "PT0S", 2), LIMITS).effects)).toEqual([]);
    expect(onMessage(refused.state, msg("close", 1, {}, "PT0S", 2), LIMITS).state.phase).toBe(
      "disconnecting",
    );
  });

  it("sends one disconnect per call, even when input keeps coming after the client's close", () => {
    const gone = disconnect(opened(), "error", "transcription service refused the call").state;
    const closing = onMessage(gone, msg("close", 2, { reason: "disconnect" }, "PT0S", 2), LIMITS).state;
    expect(closing.phase).toBe("closing");
    // Audio and a stray message before the flush is done: protocol errors, logged, not a second disconnect.
    const audio = onAudio(closing, new Uint8Array(160), LIMITS);
    const late = onMessage(audio.state, msg("ping", 3, {}, "PT0S", 2), LIMITS);
    expect(sends([...audio.effects, ...late.effects])).toEqual([]);
    expect(sends(disconnect(late.state, "error", "again").effects)).toEqual([]);
    expect(sends(acknowledgeClose(late.state).effects)).toMatchObject([{ type: "closed" }]);
  });

  it("after closed it answers nothing, not even a disconnect for a protocol error, and logs the message", () => {
    const closed = acknowledgeClose(onMessage(opened(), msg("close", 2, {}), LIMITS).state).state;
    expect(closed.phase).toBe("closed");
    for (const t of [
      onMessage(closed, msg("ping", 3, {}, "PT0S", 2), LIMITS),
      onMessage(closed, msg("ping", 9, {}, "PT0S", 2), LIMITS),
      onAudio(closed, new Uint8Array(160), LIMITS),
      disconnect(closed, "error", "late failure"),
    ]) {
      expect(sends(t.effects)).toEqual([]);
      expect(t.effects.every((e) => e.type === "log")).toBe(true);
      expect(t.state.phase).toBe("closed");
    }
    expect(onAudio(closed, new Uint8Array(160), LIMITS).effects).toMatchObject([
      { type: "log", event: "protocol-error", fields: { code: "audio-after-close" } },
    ]);
  });

  it("messages before open are refused, close before open is answered", () => {
    const start = fresh();
    expect(sends(onMessage(start, msg("ping", 1), LIMITS).effects)[0]).toMatchObject({
      type: "disconnect",
      parameters: { info: "ping before open" },
    });
    const early = onMessage(start, msg("close", 1), LIMITS);
    expect(sends(acknowledgeClose(early.state).effects)[0]).toMatchObject({ type: "closed", clientseq: 1 });
  });
});

describe("message validation", () => {
  it("names the field that is wrong", () => {
    const bad = parseClientMessage(
      JSON.stringify({
        version: "2",
        id: SESSION,
        type: "error",
        seq: 1,
        serverseq: 0,
        position: "PT0S",
        parameters: { code: "x", message: "m" },
      }),
    );
    expect(bad).toMatchObject({
      ok: false,
      error: { code: "bad-parameters", info: expect.stringMatching(/^error\.parameters\.code/) },
    });
    const noParams = parseClientMessage(
      JSON.stringify({ version: "2", id: SESSION, type: "pong", seq: 1, serverseq: 0, position: "PT0S" }),
    );
    expect(noParams).toMatchObject({
      ok: false,
      error: { code: "bad-envelope", info: expect.stringMatching(/parameters/) },
    });
  });
});
