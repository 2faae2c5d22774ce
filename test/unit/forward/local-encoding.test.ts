// A batch we cannot encode is our failure, not the transcription service's: it must be fatal with a
// cause naming what failed, never retried as a transport error (issue 13, item 2).

import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { AudioBatch } from "../../../src/forward/batcher.js";
import { buildPushRequest, toAudioChunk } from "../../../src/forward/messages.js";
import { classifyError, decideRetry, ForwardError } from "../../../src/forward/retry.js";

const SESSION = { sessionId: "s-1", conversationId: "c-1", participantId: "p-1" };

function batch(overrides: Partial<AudioBatch> = {}): AudioBatch {
  return {
    channel: "external",
    sequence: 7,
    startSample: 800,
    samples: new Int16Array(800),
    language: { code: "en-US", confidence: 0.9, provisional: false },
    since: 0,
    ...overrides,
  };
}

/** What the encoder throws for `b`, or undefined when it encodes. */
function encodingError(b: AudioBatch): unknown {
  try {
    toAudioChunk(b, SESSION);
    return undefined;
  } catch (err) {
    return err;
  }
}

describe("encoding a batch that cannot be encoded", () => {
  it.each([
    ["an infinite start", { startSample: Number.POSITIVE_INFINITY }, /startSample Infinity/],
    ["a start past 2^53", { startSample: 3e16 }, /startSample 30000000000000000/],
    ["a fractional start", { startSample: 1.5 }, /startSample 1.5/],
    ["a negative start", { startSample: -8 }, /startSample -8/],
    ["a NaN sequence", { sequence: Number.NaN }, /sequence NaN/],
  ])("%s throws ERR_LOCAL_ENCODING naming the field", (_, overrides, message) => {
    const err = encodingError(batch(overrides));
    expect(err).toBeInstanceOf(ForwardError);
    expect((err as ForwardError).code).toBe("ERR_LOCAL_ENCODING");
    expect((err as ForwardError).message).toMatch(/^cannot encode external batch/);
    expect((err as ForwardError).message).toMatch(message);
  });

  it("encodes the largest safe position", () => {
    expect(toAudioChunk(batch({ startSample: Number.MAX_SAFE_INTEGER }), SESSION).position).toBe(
      BigInt(Number.MAX_SAFE_INTEGER),
    );
  });

  it("is classified fatal with its own code, never as the service being unavailable", () => {
    let thrown: unknown;
    try {
      buildPushRequest(SESSION, [batch(), batch({ sequence: 8, startSample: Number.POSITIVE_INFINITY })]);
    } catch (err) {
      thrown = err;
    }
    const verdict = classifyError(thrown);
    expect(verdict.retryable).toBe(false);
    if (!verdict.retryable) expect(verdict.error.code).toBe("ERR_LOCAL_ENCODING");
    const decision = decideRetry(thrown, 1, 0);
    expect(decision.retry).toBe(false);
    if (!decision.retry) expect(decision.error.code).toBe("ERR_LOCAL_ENCODING");
  });

  it("classifies a raw RangeError (BigInt of Infinity) as local and fatal, keeping it as the cause", () => {
    let raw: unknown;
    try {
      BigInt(Number.POSITIVE_INFINITY);
    } catch (err) {
      raw = err;
    }
    expect(raw).toBeInstanceOf(RangeError);
    const verdict = classifyError(raw);
    expect(verdict.retryable).toBe(false);
    if (!verdict.retryable) {
      expect(verdict.error.code).toBe("ERR_LOCAL_ENCODING");
      expect(verdict.error.cause).toBe(raw);
    }
  });

  it("finds our own error inside a ConnectError the client wrapped it in", () => {
    const own = new ForwardError("ERR_LOCAL_ENCODING", "cannot encode");
    const wrapped = new ConnectError("wrapped", Code.Unknown, undefined, undefined, own);
    const verdict = classifyError(wrapped);
    expect(verdict.retryable).toBe(false);
    if (!verdict.retryable) expect(verdict.error).toBe(own);
  });

  it("still retries a network failure (a TypeError from fetch) as Unknown", () => {
    expect(classifyError(new TypeError("fetch failed")).retryable).toBe(true);
  });
});
