// The AudioHook protocol as a pure state machine: (state, input) → { state, effects }.
// The Durable Object performs the effects (send, forward audio, flush, close) in order.

import type { ChannelName, MediaFormat } from "../media/format";
import { SUPPORTED_RATE } from "../media/format";
import { decodeFrame, type FrameError, type PcmChunk } from "../media/frames";
import { durationToSamples, MAX_DURATION_SECONDS, maxPositionSamples, samplesToDuration } from "./duration";
import {
  type ClientMessage,
  type DisconnectReason,
  type MediaOfferParams,
  type OpenParams,
  type ParseError,
  PROTOCOL_VERSION,
  type ServerMessage,
  type ServerMessageType,
} from "./messages";

export type Endpoint = "monitor" | "transcription";
/** `closing`: the client sent close; we flush (events may still go out) and then answer `closed`. */
export type Phase = "awaiting-open" | "open" | "closing" | "disconnecting" | "closed";

/** Everything the protocol needs to continue a call after hibernation or eviction (plain JSON). */
export interface SessionState {
  readonly sessionId: string;
  readonly organizationId: string;
  readonly correlationId: string;
  readonly endpoint: Endpoint;
  phase: Phase;
  /** Last client `seq` processed. */
  clientSeq: number;
  /** Last server `seq` sent. */
  serverSeq: number;
  media: MediaFormat | null;
  conversationId: string | null;
  participantId: string | null;
  probe: boolean;
  language: string | null;
  customConfig: Record<string, unknown> | null;
  paused: boolean;
  /** Stream timeline position in samples: audio received plus audio the client reported discarded. */
  positionSamples: number;
  /** Audio actually received, in samples per channel. */
  receivedSamples: number;
  /**
   * A `disconnect` went out: never send another, even once the client's close moved the phase on.
   * Optional so that a state persisted before this field existed reads as "not yet".
   */
  disconnected?: boolean;
}

export interface SessionIdentity {
  sessionId: string;
  organizationId: string;
  correlationId: string;
  endpoint: Endpoint;
}

export interface ProtocolLimits {
  /** Largest frame accepted, in samples per channel. */
  maxFrameSamples: number;
  /** Languages answered when `open` asks for `supportedLanguages`. */
  supportedLanguages: readonly string[];
  /** Answer `opened` with `startPaused` (downstream not ready). */
  startPaused?: boolean;
}

export type BoundaryReason = "pause" | "update" | "discarded" | "close" | "disconnect";

export interface CallStart {
  sessionId: string;
  conversationId: string;
  participantId: string;
  probe: boolean;
  media: MediaFormat | null;
  language: string | null;
  customConfig: Record<string, unknown> | null;
  /** Session ids this call continues (`open.continuedSessions`: Genesys reconnected the call). */
  continuedSessions?: string[];
}

export type Effect =
  | { type: "send"; message: ServerMessage }
  | { type: "start"; call: CallStart }
  | { type: "audio"; chunk: PcmChunk }
  /** Utterances in progress end here (pause, language change, discarded audio, end of call). */
  | { type: "boundary"; reason: BoundaryReason; positionSamples: number }
  | { type: "language"; language: string | null }
  /** Deliver everything held downstream before the next effect. */
  | { type: "flush" }
  /** Answer the client's close now (after the flush): the shell applies `acknowledgeClose`. */
  | { type: "acknowledge-close" }
  /** The client is closing cooperatively: no timer closes the socket while we flush. */
  | { type: "cancel-close" }
  /** Close the socket after a grace period unless the client closes it first. */
  | { type: "close-later"; code: number; reason: string }
  | { type: "log"; level: "info" | "warn"; event: string; fields?: Record<string, unknown> };

export interface Transition {
  state: SessionState;
  effects: Effect[];
}

export type ProtocolErrorCode =
  | ParseError["code"]
  | "wrong-id"
  | "wrong-seq"
  | "wrong-serverseq"
  | "wrong-position"
  | "position-out-of-range"
  | "unexpected-message"
  | "audio-before-open"
  | "audio-after-close"
  | "audio-while-paused"
  | "no-media"
  | "no-supported-media"
  | "organization-mismatch"
  | FrameError["code"];

const ZERO_UUID = "00000000-0000-0000-0000-000000000000";
const CHANNEL_NAMES: ReadonlySet<string> = new Set<ChannelName>(["external", "internal"]);
const FORMATS: ReadonlySet<string> = new Set(["PCMU", "L16"]);
/** Client positions may differ from ours by rounding to milliseconds. */
const POSITION_TOLERANCE_SAMPLES = 8;

export function initialState(identity: SessionIdentity): SessionState {
  return {
    ...identity,
    phase: "awaiting-open",
    clientSeq: 0,
    serverSeq: 0,
    media: null,
    conversationId: null,
    participantId: null,
    probe: false,
    language: null,
    customConfig: null,
    paused: false,
    positionSamples: 0,
    receivedSamples: 0,
    disconnected: false,
  };
}

/** Builds the next server message, advancing `serverSeq`. */
function send(state: SessionState, type: ServerMessageType, parameters: Record<string, unknown>): Effect {
  state.serverSeq += 1;
  return {
    type: "send",
    message: {
      version: PROTOCOL_VERSION,
      id: state.sessionId,
      type,
      seq: state.serverSeq,
      clientseq: state.clientSeq,
      parameters,
    },
  };
}

/** Ends the call from our side: `disconnect`, then close the socket unless the client does first. */
export function disconnect(prev: SessionState, reason: DisconnectReason, info?: string): Transition {
  const state = { ...prev };
  // One disconnect per call: once sent (the client may since have closed, moving the phase on), the
  // client has been told. After closed the call is over and answered: whatever the client still sends
  // is logged (by the caller) and not answered, so a client never reads a `disconnect` after `closed`.
  if (state.phase === "disconnecting" || state.phase === "closed" || state.disconnected)
    return { state, effects: [] };
  const effects: Effect[] = [];
  if (state.phase === "open")
    effects.push({ type: "boundary", reason: "disconnect", positionSamples: state.positionSamples });
  effects.push(send(state, "disconnect", info === undefined ? { reason } : { reason, info }));
  effects.push({
    type: "log",
    level: reason === "completed" ? "info" : "warn",
    event: "disconnect",
    fields: { reason, info },
  });
  effects.push({
    type: "close-later",
    code: reason === "completed" ? 1000 : 1008,
    reason: `disconnect: ${reason}`,
  });
  state.phase = "disconnecting";
  state.disconnected = true;
  return { state, effects };
}

function protocolError(
  state: SessionState,
  code: ProtocolErrorCode,
  info: string,
  reason: DisconnectReason = "error",
) {
  const t = disconnect(state, reason, info);
  t.effects.unshift({ type: "log", level: "warn", event: "protocol-error", fields: { code, info } });
  return t;
}

/** A text frame that failed to parse or validate. */
export function onInvalidMessage(state: SessionState, error: ParseError): Transition {
  return protocolError(state, error.code, error.info);
}

function isSupportedOffer(offer: MediaOfferParams): boolean {
  const channels = offer.channels;
  return (
    offer.type === "audio" &&
    FORMATS.has(offer.format) &&
    offer.rate === SUPPORTED_RATE &&
    channels.length >= 1 &&
    channels.length <= 2 &&
    channels.every((c) => CHANNEL_NAMES.has(c)) &&
    new Set(channels).size === channels.length
  );
}

export function onMessage(prev: SessionState, message: ClientMessage, limits: ProtocolLimits): Transition {
  const state = { ...prev };
  if (message.id !== state.sessionId) {
    return protocolError(
      state,
      "wrong-id",
      `message id ${message.id.slice(0, 40)} is not this session's id ${state.sessionId}`,
    );
  }
  // After our disconnect the client answers with close, numbered after every message it sent, including
  // the refused one that caused the disconnect, and with a position that may be as wrong as what caused
  // it: it is still the answer we wait for, and the call ends with closed rather than a timeout.
  if (state.phase === "disconnecting" && message.type === "close" && message.seq > state.clientSeq) {
    state.clientSeq = message.seq;
    return finishClose(state, []);
  }
  if (message.seq !== state.clientSeq + 1) {
    return protocolError(
      state,
      "wrong-seq",
      `out-of-order seq: expected ${state.clientSeq + 1}, got ${message.seq}`,
    );
  }
  if (message.serverseq > state.serverSeq) {
    return protocolError(
      state,
      "wrong-serverseq",
      `serverseq ${message.serverseq} is ahead of the last server message (${state.serverSeq})`,
    );
  }
  state.clientSeq = message.seq;
  const effects: Effect[] = [];
  if (state.media) {
    const position = durationToSamples(message.position, state.media.rate) ?? 0;
    if (position < state.receivedSamples - POSITION_TOLERANCE_SAMPLES) {
      return protocolError(
        state,
        "wrong-position",
        `position ${message.position} is behind the ${samplesToDuration(state.receivedSamples, state.media.rate)} of audio received`,
      );
    }
    // A client position ahead of ours is audio the client dropped without saying so: keep its timeline.
    if (position > state.positionSamples + POSITION_TOLERANCE_SAMPLES) {
      // `discarded` and `resumed` announce their gap themselves; anything else is worth a warning.
      if (message.type !== "discarded" && message.type !== "resumed")
        effects.push({
          type: "log",
          level: "warn",
          event: "position-gap",
          fields: { samples: position - state.positionSamples, at: message.type },
        });
      state.positionSamples = position;
    }
  }

  if (state.phase === "closed" || state.phase === "closing") {
    return protocolError(state, "unexpected-message", `${message.type} after close`);
  }
  if (state.phase === "disconnecting") {
    // After our disconnect the client answers with close; anything else is late traffic we drop.
    if (message.type === "close") return finishClose(state, effects);
    if (message.type === "ping") return { state, effects: [...effects, send(state, "pong", {})] };
    return { state, effects };
  }
  if (state.phase === "awaiting-open" && message.type !== "open" && message.type !== "close") {
    return protocolError(state, "unexpected-message", `${message.type} before open`);
  }

  switch (message.type) {
    case "open":
      if (state.phase !== "awaiting-open")
        return protocolError(state, "unexpected-message", "second open on one session");
      return onOpen(state, message.parameters, limits, effects);
    case "ping":
      if (message.parameters.rtt)
        effects.push({ type: "log", level: "info", event: "rtt", fields: { rtt: message.parameters.rtt } });
      effects.push(send(state, "pong", {}));
      return { state, effects };
    case "paused":
      state.paused = true;
      effects.push({ type: "boundary", reason: "pause", positionSamples: state.positionSamples });
      return { state, effects };
    case "resumed": {
      state.paused = false;
      const discarded = discardedSamples(state, message.parameters.discarded);
      if (discarded > 0) {
        const end = state.receivedSamples + discarded;
        if (end > maxPosition(state)) return positionOutOfRange(state, "resumed.discarded", end);
        state.positionSamples = Math.max(state.positionSamples, end);
      }
      return { state, effects };
    }
    case "update": {
      const language = message.parameters.language ?? state.language;
      effects.push({ type: "boundary", reason: "update", positionSamples: state.positionSamples });
      if (language !== state.language) {
        state.language = language;
        effects.push({ type: "language", language });
      }
      return { state, effects };
    }
    case "discarded": {
      const rate = state.media?.rate ?? SUPPORTED_RATE;
      const start = durationToSamples(message.parameters.start, rate) ?? state.positionSamples;
      const span = durationToSamples(message.parameters.discarded, rate) ?? 0;
      // Each is bounded by the schema; together they may still pass the end of a call's timeline.
      if (start + span > maxPosition(state)) return positionOutOfRange(state, "discarded", start + span);
      // Audio missing from the timeline, not the end of anything: the timeline moves on and the next
      // chunk's position tells the service about the gap; an utterance in progress goes on across it.
      state.positionSamples = Math.max(state.positionSamples, start + span);
      return { state, effects };
    }
    case "error":
      effects.push({
        type: "log",
        level: "warn",
        event: "client-error",
        fields: { code: message.parameters.code, message: message.parameters.message.slice(0, 200) },
      });
      return { state, effects };
    case "close":
      return finishClose(state, effects);
  }
}

function maxPosition(state: SessionState): number {
  return maxPositionSamples(state.media?.rate ?? SUPPORTED_RATE);
}

/** A position past MAX_DURATION_SECONDS ends the call: beyond it no later position could be trusted. */
function positionOutOfRange(state: SessionState, what: string, samples: number): Transition {
  const rate = state.media?.rate ?? SUPPORTED_RATE;
  return protocolError(
    state,
    "position-out-of-range",
    // Seconds, not a duration: formatDuration clamps at the maximum this reports passing.
    `${what} reaches ${Number((samples / rate).toFixed(3))} s, past the ${MAX_DURATION_SECONDS / 3600} h maximum of a call's timeline`,
  );
}

function discardedSamples(state: SessionState, duration: string | undefined): number {
  if (!duration) return 0;
  return durationToSamples(duration, state.media?.rate ?? SUPPORTED_RATE) ?? 0;
}

function onOpen(
  state: SessionState,
  params: OpenParams,
  limits: ProtocolLimits,
  effects: Effect[],
): Transition {
  if (params.organizationId.toLowerCase() !== state.organizationId.toLowerCase()) {
    return protocolError(
      state,
      "organization-mismatch",
      "organizationId does not match the connection's audiohook-organization-id",
      "unauthorized",
    );
  }
  const offer = params.media.find(isSupportedOffer);
  if (!offer) {
    return protocolError(
      state,
      "no-supported-media",
      "no supported media offered: this server takes audio PCMU or L16 at 8000 Hz, channels external and/or internal",
    );
  }
  state.phase = "open";
  state.media = {
    format: offer.format as MediaFormat["format"],
    channels: offer.channels as ChannelName[],
    rate: offer.rate,
  };
  state.conversationId = params.conversationId;
  state.participantId = params.participant.id;
  state.probe = params.conversationId === ZERO_UUID;
  state.language = params.language ?? null;
  state.customConfig = params.customConfig ?? null;
  const opened: Record<string, unknown> = { media: [offer] };
  if (limits.startPaused) opened.startPaused = true;
  if (params.supportedLanguages === true) opened.supportedLanguages = [...limits.supportedLanguages];
  effects.push(send(state, "opened", opened));
  effects.push({
    type: "start",
    call: {
      sessionId: state.sessionId,
      conversationId: params.conversationId,
      participantId: params.participant.id,
      probe: state.probe,
      media: state.media,
      language: state.language,
      customConfig: state.customConfig,
      continuedSessions: (params.continuedSessions ?? []).map((c) => c.id.toLowerCase()),
    },
  });
  effects.push({
    type: "log",
    level: "info",
    event: "opened",
    fields: { probe: state.probe, format: offer.format, channels: offer.channels, language: state.language },
  });
  return { state, effects };
}

function finishClose(state: SessionState, effects: Effect[]): Transition {
  if (state.phase === "open")
    effects.push({ type: "boundary", reason: "close", positionSamples: state.positionSamples });
  effects.push({ type: "cancel-close" }, { type: "flush" }, { type: "acknowledge-close" });
  state.phase = "closing";
  return { state, effects };
}

/**
 * Sends `closed` once what the call held has been flushed. Separate from the close transition so that
 * transcript events produced by the flush go out first, with their own sequence numbers.
 */
export function acknowledgeClose(prev: SessionState): Transition {
  const state = { ...prev };
  if (state.phase !== "closing") return { state, effects: [] };
  state.phase = "closed";
  return {
    state,
    effects: [send(state, "closed", {}), { type: "close-later", code: 1000, reason: "closed" }],
  };
}

/** One binary frame of audio. */
export function onAudio(prev: SessionState, bytes: Uint8Array, limits: ProtocolLimits): Transition {
  const state = { ...prev };
  switch (state.phase) {
    case "awaiting-open":
      return protocolError(state, "audio-before-open", "audio received before open/opened");
    case "closing":
    case "closed":
      return protocolError(state, "audio-after-close", "audio received after close");
    case "disconnecting":
      return { state, effects: [] };
    case "open":
      break;
  }
  if (!state.media) return protocolError(state, "no-media", "audio received but no media was negotiated");
  if (state.paused)
    return protocolError(state, "audio-while-paused", "audio received while the stream is paused");
  const decoded = decodeFrame(bytes, state.media, limits.maxFrameSamples);
  if (!decoded.ok) return protocolError(state, decoded.error.code, decoded.error.info);
  const samples = decoded.channels[0]?.length ?? 0;
  if (state.positionSamples + samples > maxPosition(state))
    return positionOutOfRange(state, "audio", state.positionSamples + samples);
  const chunk: PcmChunk = {
    media: state.media,
    channels: decoded.channels,
    startSample: state.positionSamples,
  };
  state.positionSamples += samples;
  state.receivedSamples += samples;
  return { state, effects: [{ type: "audio", chunk }] };
}

/** Asks the client to pause or resume the stream (e.g. while the transcription service is unavailable). */
export function requestFlow(prev: SessionState, type: "pause" | "resume"): Transition {
  const state = { ...prev };
  if (state.phase !== "open") return { state, effects: [] };
  return { state, effects: [send(state, type, {})] };
}

/** Sends one `event` message (e.g. a transcript) while the call is open. */
export function sendEvent(prev: SessionState, entities: readonly unknown[]): Transition {
  const state = { ...prev };
  if (state.phase !== "open" && state.phase !== "closing") return { state, effects: [] };
  return { state, effects: [send(state, "event", { entities })] };
}
