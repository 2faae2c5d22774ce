// The forwarding stage without I/O: effects out for every input, one request in flight, what accumulates
// while it is goes in the next, failures spill and back off, boundaries flush, the bound counts channels.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { CallStart } from "../../../src/audiohook/session.js";
import { type ForwardEffect, Forwarder } from "../../../src/forward/forwarder.js";
import { ForwardError } from "../../../src/forward/retry.js";
import {
  Channel,
  ChannelAckSchema,
  type PushAudioRequest,
  TranscriptResultSchema,
} from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";
import type { ChannelName } from "../../../src/media/format.js";
import type { PcmChunk } from "../../../src/media/frames.js";

const options = {
  batchMs: 100,
  maxBufferedMs: 1000,
  giveUpAfterMs: 60_000,
  maxBatchesPerRequest: 20,
  resendAfterMs: 10_000,
  sendIntervalMs: 0,
  supportedLanguages: ["en-US"],
  detector: null,
  text: null,
  random: () => 0.5,
};

function call(channels: ChannelName[]): CallStart {
  return {
    sessionId: "s-1",
    conversationId: "c-1",
    participantId: "p-1",
    probe: false,
    media: { format: "PCMU", channels, rate: 8000 },
    language: "en-US",
    customConfig: null,
  };
}

/** `ms` of audio on every channel of the call, starting at `start` samples. */
function chunk(channels: ChannelName[], ms: number, start: number): PcmChunk {
  const n = (ms / 1000) * 8000;
  return {
    media: { format: "PCMU", channels, rate: 8000 },
    channels: channels.map(() => new Int16Array(n).fill(100)),
    startSample: start,
  };
}

const of = <T extends ForwardEffect["type"]>(effects: ForwardEffect[], type: T) =>
  effects.filter((e): e is Extract<ForwardEffect, { type: T }> => e.type === type);

/** The service's acknowledgement of everything in a push. */
function ackAll(request: PushAudioRequest) {
  const last = new Map<Channel, bigint>();
  for (const c of request.chunks) last.set(c.channel, c.sequenceNumber);
  return {
    acks: [...last].map(([channel, sequenceNumber]) => create(ChannelAckSchema, { channel, sequenceNumber })),
    results: [],
  };
}

describe("Forwarder", () => {
  it("keeps one request in flight and sends what accumulated meanwhile in the next", () => {
    const f = new Forwarder(options);
    const stereo: ChannelName[] = ["external", "internal"];
    f.start(call(stereo));
    const first = of(f.audio(chunk(stereo, 100, 0), 5), "push");
    expect(first).toHaveLength(1);
    expect(first[0]?.request.chunks.map((c) => [c.channel, Number(c.sequenceNumber)])).toEqual([
      [Channel.EXTERNAL, 1],
      [Channel.INTERNAL, 1],
    ]);
    // While it is in flight, 300 ms more arrive: no new request.
    for (let i = 1; i <= 3; i++)
      expect(of(f.audio(chunk(stereo, 100, i * 800), i * 100), "push")).toEqual([]);
    const next = of(f.answered(ackAll(first[0]?.request as PushAudioRequest), 310), "push");
    expect(next).toHaveLength(1);
    expect(next[0]?.request.chunks).toHaveLength(6);
    expect(f.latencySummary().count).toBe(2);
  });

  it("bounds a mono call by its one channel, not two", () => {
    const mono: ChannelName[] = ["external"];
    const f = new Forwarder({ ...options, maxBatchesPerRequest: 1 });
    f.start(call(mono));
    const effects: ForwardEffect[] = [];
    // 1 s allowed per channel: the 11th 100 ms batch of an unacknowledged mono call is refused.
    for (let i = 0; i < 11; i++) effects.push(...f.audio(chunk(mono, 100, i * 800), i * 100));
    const stops = of(effects, "stop");
    expect(stops).toHaveLength(1);
    expect(stops[0]?.error.code).toBe("ERR_OUTBOX_FULL");
    expect(f.summary().outboxBatches).toBe(10);
  });

  it("backs off after a retryable failure, spills what it holds, and tries again when the retry is due", () => {
    const f = new Forwarder(options);
    const mono: ChannelName[] = ["external"];
    f.start(call(mono));
    f.audio(chunk(mono, 100, 0), 0);
    const failed = f.failed(new ConnectError("down", Code.Unavailable), 10);
    expect(of(failed, "spill-all")).toHaveLength(1);
    const retry = of(failed, "retry-at")[0];
    expect(retry?.at).toBeGreaterThan(10);
    // Everything held is due for durable storage now, however young.
    expect(f.spill(11, 500)).toHaveLength(1);
    expect(of(f.audio(chunk(mono, 100, 800), 20), "push")).toEqual([]);
    expect(f.retryDue((retry?.at ?? 0) - 1)).toEqual([]);
    const again = of(f.retryDue(retry?.at ?? 0), "push");
    expect(again[0]?.request.chunks).toHaveLength(2);
  });

  it("ends the call on a refusal that repeating cannot fix, and still answers a drain", () => {
    const f = new Forwarder(options);
    const mono: ChannelName[] = ["external"];
    f.start(call(mono));
    f.audio(chunk(mono, 100, 0), 0);
    const out = f.failed(new ConnectError("bad audio", Code.InvalidArgument), 5);
    expect(of(out, "stop")[0]?.error.code).toBe("ERR_TRANSCRIBER_INVALID_ARGUMENT");
    expect(of(f.drain(6), "drained")).toHaveLength(1);
  });

  it("flushes the service at a boundary once the audio before it is acknowledged, then reports drained", () => {
    const f = new Forwarder(options);
    const mono: ChannelName[] = ["external"];
    f.start(call(mono));
    const push = of(f.audio(chunk(mono, 60, 0), 0), "push");
    expect(push).toEqual([]); // 60 ms: no full batch yet
    const boundary = of(f.boundary("close", 10), "push");
    expect(boundary[0]?.request.chunks[0]?.audioData.byteLength).toBe(480 * 2);
    expect(of(f.drain(11), "drained")).toEqual([]);
    const afterPush = f.answered(ackAll(boundary[0]?.request as PushAudioRequest), 20);
    const flush = of(afterPush, "flush-session");
    expect(flush).toHaveLength(1);
    const result = create(TranscriptResultSchema, {
      sequenceNumber: 1n,
      text: "hello",
      channel: Channel.EXTERNAL,
    });
    const done = f.answered({ acks: [], results: [result] }, 30);
    expect(of(done, "results")[0]?.results.map((r) => r.text)).toEqual(["hello"]);
    expect(of(done, "drained")).toHaveLength(1);
  });

  it("fails for good, not by retrying, when a batch cannot be encoded", () => {
    const f = new Forwarder(options);
    const mono: ChannelName[] = ["external"];
    f.start(call(mono));
    const out = f.audio(chunk(mono, 100, Number.POSITIVE_INFINITY), 0);
    expect(of(out, "retry-at")).toEqual([]);
    expect(of(out, "stop")[0]?.error.code).toBe("ERR_LOCAL_ENCODING");
  });

  it("carries its state across a snapshot: sequences go on, spilled batches come back", () => {
    const a = new Forwarder(options);
    const mono: ChannelName[] = ["external"];
    a.start(call(mono));
    a.audio(chunk(mono, 100, 0), 0);
    const spilled = a.spill(1000, 500);
    const b = new Forwarder(options, { snapshot: a.snapshot(), spilled });
    const resent = of(b.retryDue(1000), "push");
    expect(resent[0]?.request.chunks.map((c) => Number(c.sequenceNumber))).toEqual([1]);
    b.answered(ackAll(resent[0]?.request as PushAudioRequest), 1001);
    const next = of(b.audio(chunk(mono, 100, 800), 1002), "push");
    expect(next[0]?.request.chunks.map((c) => Number(c.sequenceNumber))).toEqual([2]);
  });

  it("keeps sending new audio to a service that acknowledges only at the end of an utterance", () => {
    const f = new Forwarder({ ...options, maxBatchesPerRequest: 2 });
    const mono: ChannelName[] = ["external"];
    f.start(call(mono));
    const silent = { acks: [], results: [] };
    let push = of(f.audio(chunk(mono, 200, 0), 0), "push");
    const sent: number[] = [];
    for (let i = 1; i <= 4; i++) {
      sent.push(...(push[0]?.request.chunks.map((c) => Number(c.sequenceNumber)) ?? []));
      f.audio(chunk(mono, 200, i * 1600), i * 200);
      push = of(f.answered(silent, i * 200 + 1), "push");
    }
    // Each request carried the next batches, not the unacknowledged oldest ones again.
    expect(sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    while (push.length > 0) push = of(f.answered(silent, 1000), "push");
    expect(f.retryDue(5000)).toEqual([]);
    // After resendAfterMs without an acknowledgement they go again, oldest first.
    const stale = of(f.retryDue(20_000), "push");
    expect(stale[0]?.request.chunks.map((c) => Number(c.sequenceNumber))).toEqual([1, 2]);
  });

  it("gives up on a service that answers but never acknowledges, so the ended call can finish", () => {
    const f = new Forwarder(options);
    const mono: ChannelName[] = ["external"];
    f.start(call(mono));
    const silent = { acks: [], results: [] };
    expect(of(f.audio(chunk(mono, 200, 0), 1000), "push")).toHaveLength(1);
    expect(of(f.drain(1010), "drained")).toEqual([]);
    // Resent every resendAfterMs and answered each time, never acknowledged.
    let out = f.answered(silent, 1020);
    let at = 1020;
    const resends: number[] = [];
    while (of(out, "drained").length === 0 && at < 10 * options.giveUpAfterMs) {
      at += options.resendAfterMs + 10;
      const resent = of(f.retryDue(at), "push");
      expect(resent).toHaveLength(1);
      resends.push(at);
      out = f.answered(silent, at + 5);
    }
    expect(resends.length).toBeGreaterThan(3);
    const abandoned = of(out, "log").find((l) => l.event === "forward-abandoned");
    expect(abandoned?.fields).toMatchObject({ batches: 2, samples: 1600 });
    expect(Number(abandoned?.fields.unacknowledgedForMs)).toBeGreaterThan(options.giveUpAfterMs);
    // Given up at the first answer after giveUpAfterMs, not later.
    expect(at + 5 - 1000).toBeLessThanOrEqual(options.giveUpAfterMs + options.resendAfterMs + 20);
    expect(of(out, "stop")[0]?.error.code).toBe("ERR_TRANSCRIBER_UNAVAILABLE");
    expect(of(out, "unspill")).toHaveLength(1);
    expect(of(out, "drained")).toHaveLength(1);
  });

  it("holds audio up to the send interval, but not a boundary", () => {
    const f = new Forwarder({ ...options, sendIntervalMs: 200 });
    const mono: ChannelName[] = ["external"];
    f.start(call(mono));
    // 100 ms batches: the first completes at 100 ms, but its oldest frame is not 200 ms old yet.
    expect(of(f.audio(chunk(mono, 100, 0), 0), "push")).toEqual([]);
    expect(of(f.audio(chunk(mono, 100, 800), 100), "push")).toEqual([]);
    // Once the oldest frame is 200 ms old (the next frame, or the shell's timer, asks), both go in one.
    const push = of(f.retryDue(200), "push");
    expect(push[0]?.request.chunks.map((c) => Number(c.sequenceNumber))).toEqual([1, 2]);
    f.answered(ackAll(push[0]?.request as PushAudioRequest), 205);
    // A pause goes out at once, with what is pending.
    f.audio(chunk(mono, 100, 1600), 300);
    const atBoundary = of(f.boundary("pause", 310), "push");
    expect(atBoundary[0]?.request.chunks.map((c) => Number(c.sequenceNumber))).toEqual([3]);
  });

  it("leaves audio whose arrival time is unknown (restored after a wake-up) out of the latency", () => {
    const f = new Forwarder(options);
    const mono: ChannelName[] = ["external"];
    f.start(call(mono));
    // 50 ms pending in the batcher when the object is evicted: the snapshot keeps no arrival time.
    f.audio(chunk(mono, 50, 0), 1_000);
    const woken = new Forwarder(options, { snapshot: f.snapshot(), spilled: [] });
    const push = of(woken.audio(chunk(mono, 50, 400), 2_000_000_000_000), "push");
    woken.answered(ackAll(push[0]?.request as PushAudioRequest), 2_000_000_000_010);
    expect(woken.latencySummary().count).toBe(0);
    expect(woken.latencySummary().max).toBeNull();
  });

  it("fetches a fresh token once when the service refuses it, but not when the token endpoint did", () => {
    const mono: ChannelName[] = ["external"];
    const f = new Forwarder(options);
    f.start(call(mono));
    f.audio(chunk(mono, 100, 0), 10);
    const refused = new ConnectError("stale token", Code.Unauthenticated);
    expect(of(f.failed(refused, 20), "refresh-token")).toHaveLength(1);
    expect(of(f.tokenRefreshed(30), "push")).toHaveLength(1);
    expect(of(f.failed(refused, 40), "stop")[0]?.error.code).toBe("ERR_TRANSCRIBER_UNAUTHENTICATED");

    const g = new Forwarder(options);
    g.start(call(mono));
    g.audio(chunk(mono, 100, 0), 10);
    // The token endpoint's own refusal, as the Connect client hands it back (wrapped).
    const endpoint = new ForwardError("ERR_TRANSCRIBER_UNAUTHENTICATED", "token endpoint: invalid_client");
    const out = g.failed(
      new ConnectError("interceptor failed", Code.Unknown, undefined, undefined, endpoint),
      20,
    );
    expect(of(out, "refresh-token")).toEqual([]);
    expect(of(out, "stop")[0]?.error.code).toBe("ERR_TRANSCRIBER_UNAUTHENTICATED");
  });
});
