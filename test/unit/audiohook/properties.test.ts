// Property-based tests (fast-check) of the message parser, the duration parser and the protocol state
// machine: whatever a client sends, nothing throws, every answer is protocol-conformant (server `seq`
// consecutive from 1, `clientseq` the last client seq processed, at most one `disconnect`, nothing after
// `closed`), and positions stay finite, monotonic and within the 24 h bound.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DURATION_PATTERN,
  formatDuration,
  MAX_DURATION_SECONDS,
  maxPositionSamples,
  parseDuration,
} from "../../../src/audiohook/duration";
import { parseClientMessage, type ServerMessage } from "../../../src/audiohook/messages";
import {
  acknowledgeClose,
  disconnect,
  type Effect,
  initialState,
  onAudio,
  onInvalidMessage,
  onMessage,
  type ProtocolLimits,
  requestFlow,
  type SessionState,
  sendEvent,
  type Transition,
} from "../../../src/audiohook/session";

const SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0";
const ORG = "d7934305-0972-4844-938e-9060eef73d05";
const LIMITS: ProtocolLimits = { maxFrameSamples: 8000, supportedLanguages: ["en-US", "es-ES"] };
const RATE = 8000;
// Enough runs to reach the rare paths (close then more input, discarded near the bound) every time,
// few enough to keep the unit project fast.
const RUNS = { numRuns: 400 };

const PARSE_ERROR_CODES = ["bad-json", "bad-envelope", "bad-version", "unknown-type", "bad-parameters"];

// ---- arbitraries ----------------------------------------------------------------------------------

/** Durations as a client might write them, valid or not: huge, long fractions, signs, exponents. */
const durationText = fc.oneof(
  fc.double({ min: 0, max: 2 * MAX_DURATION_SECONDS, noNaN: true }).map((s) => `PT${s.toFixed(3)}S`),
  fc.nat({ max: 3 * MAX_DURATION_SECONDS }).map((s) => `PT${s}S`),
  fc.stringMatching(/^PT\d{0,30}(\.\d{0,30})?S$/),
  fc.constantFrom(
    `PT${"9".repeat(400)}S`,
    "PT3000000000000000S",
    "PT1e3S",
    "PT-1S",
    "PTS",
    "PT.S",
    "P1D",
    "",
  ),
  fc.string(),
);

const uuid = fc.uuid();
const openParameters = fc.record({
  organizationId: fc.oneof({ weight: 9, arbitrary: fc.constant(ORG) }, { weight: 1, arbitrary: uuid }),
  conversationId: fc.oneof(uuid, fc.constant("00000000-0000-0000-0000-000000000000")),
  participant: fc.record({ id: uuid }),
  media: fc.array(
    fc.record({
      type: fc.constantFrom("audio", "video"),
      format: fc.constantFrom("PCMU", "L16", "OPUS"),
      channels: fc.constantFrom(
        ["external", "internal"],
        ["external"],
        ["internal"],
        ["external", "external"],
        [],
      ),
      rate: fc.constantFrom(8000, 16000),
    }),
    { maxLength: 3 },
  ),
  language: fc.constantFrom("en-US", "es-ES", "fr-FR"),
  supportedLanguages: fc.boolean(),
});

const TYPES = ["open", "ping", "paused", "resumed", "update", "discarded", "error", "close"] as const;

function parametersFor(type: string): fc.Arbitrary<Record<string, unknown>> {
  switch (type) {
    case "open":
      return openParameters;
    case "ping":
      return fc.record({ rtt: durationText }, { requiredKeys: [] });
    case "resumed":
      return fc.record({ start: durationText, discarded: durationText }, { requiredKeys: [] });
    case "update":
      return fc.record({ language: fc.constantFrom("en-US", "de-DE", "not a tag") }, { requiredKeys: [] });
    case "discarded":
      return fc.record({ start: durationText, discarded: durationText });
    case "error":
      return fc.record({ code: fc.constantFrom(400, 408, 500, 1.5), message: fc.string() });
    case "close":
      return fc.record(
        { reason: fc.constantFrom("end", "error", "disconnect", "reconnect", "bogus") },
        {
          requiredKeys: [],
        },
      );
    default:
      return fc.constant({});
  }
}

/** What a client means to send; the driver turns it into text against the call's running numbers. */
interface MessageIntent {
  kind: "message";
  type: string;
  parameters: Record<string, unknown>;
  /** 0: the next seq; anything else: out of order. */
  seqDelta: number;
  serverseq: "last" | "zero" | "ahead";
  position: "exact" | "ahead" | "behind" | { text: string };
  mutation: Mutation | null;
}

type Mutation =
  | { op: "truncate"; at: number }
  | { op: "set"; key: string; value: unknown }
  | { op: "delete"; key: string }
  | { op: "flip"; at: number; char: string };

const KEYS = ["version", "id", "type", "seq", "serverseq", "position", "parameters"];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat({ max: 400 }) }),
  fc.record({ op: fc.constant("set" as const), key: fc.constantFrom(...KEYS), value: fc.jsonValue() }),
  fc.record({ op: fc.constant("delete" as const), key: fc.constantFrom(...KEYS) }),
  fc.record({
    op: fc.constant("flip" as const),
    at: fc.nat({ max: 400 }),
    char: fc.constantFrom("{", "}", '"', "\\", "0", "9", "-", ".", "e", "\u0000", "\u{1F600}"),
  }),
);

const messageIntent: fc.Arbitrary<MessageIntent> = fc.constantFrom(...TYPES, "dance", "pong").chain((type) =>
  fc.record({
    kind: fc.constant("message" as const),
    type: fc.constant(type),
    parameters: fc.oneof(
      { weight: 8, arbitrary: parametersFor(type) },
      { weight: 1, arbitrary: fc.jsonValue() },
    ),
    seqDelta: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer() }),
    serverseq: fc.constantFrom("last", "last", "last", "zero", "ahead"),
    position: fc.oneof(
      { weight: 6, arbitrary: fc.constant("exact" as const) },
      { weight: 1, arbitrary: fc.constantFrom("ahead" as const, "behind" as const) },
      { weight: 1, arbitrary: durationText.map((text) => ({ text })) },
    ),
    mutation: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: mutation }),
  }),
) as fc.Arbitrary<MessageIntent>;

type Step =
  | MessageIntent
  /** A binary frame of `bytes` bytes (PCMU or L16, one or two channels: any length is worth trying). */
  | { kind: "audio"; bytes: number }
  /** Raw text no client would build. */
  | { kind: "raw"; text: string }
  /**
   * What the Durable Object may do on its own between client inputs; `flushed`: the flush after a close
   * is done, so the shell answers it (until then, client input keeps arriving).
   */
  | { kind: "shell"; action: "disconnect" | "pause" | "resume" | "event" | "flushed" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: messageIntent },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("audio" as const),
      bytes: fc.oneof(fc.constantFrom(160, 320, 1600), fc.nat({ max: 40_000 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("raw" as const), text: fc.string({ maxLength: 200 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("shell" as const),
      action: fc.constantFrom(
        "disconnect" as const,
        "pause" as const,
        "resume" as const,
        "event" as const,
        "flushed" as const,
      ),
    }),
  },
);

/** Calls start with a good open most of the time, so the open phase gets most of the traffic. */
const call = fc.tuple(fc.boolean(), fc.array(step, { maxLength: 60 })).map(([opens, steps]): Step[] =>
  opens
    ? [
        {
          kind: "message",
          type: "open",
          parameters: {
            organizationId: ORG,
            conversationId: "090eaa2f-72fa-480a-83e0-8667ff89c0ec",
            participant: { id: "883efee8-3d6c-4537-b500-6d7ca4b92fa0" },
            media: [{ type: "audio", format: "PCMU", channels: ["external", "internal"], rate: 8000 }],
          },
          seqDelta: 0,
          serverseq: "last",
          position: "exact",
          mutation: null,
        },
        ...steps,
      ]
    : steps,
);

// ---- the driver: a client and a shell around the pure machine ---------------------------------------

function applyMutation(text: string, m: Mutation): string {
  switch (m.op) {
    case "truncate":
      return text.slice(0, m.at % (text.length + 1));
    case "flip": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.char + text.slice(at + 1);
    }
    case "set":
    case "delete": {
      const json = JSON.parse(text) as Record<string, unknown>;
      if (m.op === "set") json[m.key] = m.value;
      else delete json[m.key];
      return JSON.stringify(json);
    }
  }
}

interface Trace {
  sent: ServerMessage[];
  /** The machine's clientSeq when each message was produced. */
  clientSeqAt: number[];
  effects: Effect[];
  states: SessionState[];
}

function runCall(steps: Step[]): Trace {
  let state = initialState({
    sessionId: SESSION,
    organizationId: ORG,
    correlationId: SESSION,
    endpoint: "transcription",
  });
  const trace: Trace = { sent: [], clientSeqAt: [], effects: [], states: [state] };
  let clientSeq = 0;
  let lastServerSeq = 0;
  let sentSamples = 0;

  const perform = (t: Transition): void => {
    state = t.state;
    trace.states.push(state);
    for (const effect of t.effects) {
      trace.effects.push(effect);
      if (effect.type === "send") {
        trace.sent.push(effect.message);
        trace.clientSeqAt.push(state.clientSeq);
        lastServerSeq = effect.message.seq;
      }
    }
    // The shell answers close once the flush is done: at a later `flushed` step or the end of the call.
    if (t.effects.some((e) => e.type === "acknowledge-close")) flushPending = true;
  };
  let flushPending = false;
  const flushed = (): void => {
    if (!flushPending) return;
    flushPending = false;
    perform(acknowledgeClose(state));
  };

  const receiveText = (text: string): void => {
    const parsed = parseClientMessage(text);
    perform(parsed.ok ? onMessage(state, parsed.message, LIMITS) : onInvalidMessage(state, parsed.error));
  };

  for (const s of steps) {
    switch (s.kind) {
      case "message": {
        clientSeq += 1;
        const position =
          s.position === "exact"
            ? formatDuration(sentSamples / RATE)
            : s.position === "ahead"
              ? formatDuration(sentSamples / RATE + 2)
              : s.position === "behind"
                ? formatDuration(Math.max(0, sentSamples / RATE - 2))
                : s.position.text;
        let text = JSON.stringify({
          version: "2",
          id: SESSION,
          type: s.type,
          seq: clientSeq + s.seqDelta,
          serverseq: s.serverseq === "last" ? lastServerSeq : s.serverseq === "zero" ? 0 : lastServerSeq + 5,
          position,
          parameters: s.parameters,
        });
        if (s.mutation) text = applyMutation(text, s.mutation);
        receiveText(text);
        break;
      }
      case "raw":
        receiveText(s.text);
        break;
      case "audio":
        sentSamples += s.bytes / 2;
        perform(onAudio(state, new Uint8Array(s.bytes), LIMITS));
        break;
      case "shell":
        if (s.action === "flushed") flushed();
        else if (s.action === "disconnect") perform(disconnect(state, "error", "shell ended the call"));
        else if (s.action === "event") perform(sendEvent(state, [{ type: "transcript", data: {} }]));
        else perform(requestFlow(state, s.action));
        break;
    }
  }
  flushed();
  return trace;
}

// ---- properties -----------------------------------------------------------------------------------

describe("duration parser (property-based)", () => {
  it("never throws; anything it accepts is finite and within 0..24 h", () => {
    fc.assert(
      fc.property(fc.oneof(durationText, fc.string()), (text) => {
        const seconds = parseDuration(text);
        if (seconds === undefined) return;
        expect(DURATION_PATTERN.test(text)).toBe(true);
        expect(Number.isFinite(seconds)).toBe(true);
        expect(seconds).toBeGreaterThanOrEqual(0);
        expect(seconds).toBeLessThanOrEqual(MAX_DURATION_SECONDS);
      }),
      { numRuns: 2000 },
    );
  });

  it("formats any number as a duration it parses back, to the millisecond within the bound", () => {
    fc.assert(
      fc.property(fc.double(), (seconds) => {
        const text = formatDuration(seconds);
        const back = parseDuration(text);
        expect(back).toBeDefined();
        if (Number.isFinite(seconds) && seconds >= 0 && seconds <= MAX_DURATION_SECONDS)
          expect(Math.abs((back as number) - seconds)).toBeLessThanOrEqual(0.0005 + 1e-9);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("message parser (property-based)", () => {
  const check = (text: string) => {
    const parsed = parseClientMessage(text);
    if (parsed.ok) {
      expect(parsed.message.seq).toBeGreaterThanOrEqual(1);
      expect(Number.isSafeInteger(parsed.message.seq)).toBe(true);
      expect(Number.isSafeInteger(parsed.message.serverseq)).toBe(true);
      expect(parseDuration(parsed.message.position)).toBeDefined();
    } else {
      expect(PARSE_ERROR_CODES).toContain(parsed.error.code);
      expect(typeof parsed.error.info).toBe("string");
      expect(parsed.error.info.length).toBeLessThanOrEqual(300);
    }
  };

  it("never throws on arbitrary text or arbitrary JSON, and answers a known error code", () => {
    fc.assert(fc.property(fc.string({ maxLength: 500 }), check), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.jsonValue(), (json) => check(JSON.stringify(json))),
      { numRuns: 2000 },
    );
  });

  it("never throws on mutated valid messages", () => {
    fc.assert(
      fc.property(messageIntent, mutation, (intent, m) => {
        const text = JSON.stringify({
          version: "2",
          id: SESSION,
          type: intent.type,
          seq: 1,
          serverseq: 0,
          position: "PT0S",
          parameters: intent.parameters,
        });
        check(applyMutation(text, m));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("protocol state machine (property-based)", () => {
  it("answers every input sequence conformantly, with finite, monotonic, bounded positions", () => {
    fc.assert(
      fc.property(call, (steps) => {
        const trace = runCall(steps);

        // Server seq: 1, 2, 3... with no gap or repeat; the envelope is complete.
        trace.sent.forEach((m, i) => {
          expect(m.seq).toBe(i + 1);
          expect(m.version).toBe("2");
          expect(m.id).toBe(SESSION);
          expect(typeof m.parameters).toBe("object");
          // clientseq: the last client seq the machine processed when it answered.
          expect(m.clientseq).toBe(trace.clientSeqAt[i]);
        });
        for (let i = 1; i < trace.sent.length; i++)
          expect(trace.sent[i]?.clientseq).toBeGreaterThanOrEqual(trace.sent[i - 1]?.clientseq ?? 0);

        // At most one disconnect, at most one closed, and nothing at all after closed.
        const types = trace.sent.map((m) => m.type);
        expect(types.filter((t) => t === "disconnect").length).toBeLessThanOrEqual(1);
        expect(types.filter((t) => t === "closed").length).toBeLessThanOrEqual(1);
        const closedAt = types.indexOf("closed");
        if (closedAt >= 0) expect(types.length).toBe(closedAt + 1);
        // opened comes first if at all, once.
        expect(types.filter((t) => t === "opened").length).toBeLessThanOrEqual(1);
        if (types.includes("opened")) expect(types[0]).toBe("opened");

        // Positions: finite, never backwards, within 24 h of audio.
        const max = maxPositionSamples(RATE);
        for (let i = 0; i < trace.states.length; i++) {
          const s = trace.states[i] as SessionState;
          for (const value of [s.positionSamples, s.receivedSamples]) {
            expect(Number.isSafeInteger(value)).toBe(true);
            expect(value).toBeGreaterThanOrEqual(0);
            expect(value).toBeLessThanOrEqual(max);
          }
          expect(s.receivedSamples).toBeLessThanOrEqual(s.positionSamples);
          if (i > 0) {
            const prev = trace.states[i - 1] as SessionState;
            expect(s.positionSamples).toBeGreaterThanOrEqual(prev.positionSamples);
            expect(s.receivedSamples).toBeGreaterThanOrEqual(prev.receivedSamples);
            expect(s.serverSeq).toBeGreaterThanOrEqual(prev.serverSeq);
          }
        }
        // Audio handed on: each chunk starts where the timeline is, finite and in bounds.
        for (const e of trace.effects) {
          if (e.type === "audio") {
            expect(Number.isSafeInteger(e.chunk.startSample)).toBe(true);
            expect(e.chunk.startSample).toBeLessThanOrEqual(max);
          }
          if (e.type === "boundary") expect(Number.isSafeInteger(e.positionSamples)).toBe(true);
        }
      }),
      RUNS,
    );
  });
});
