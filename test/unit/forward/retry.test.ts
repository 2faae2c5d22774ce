import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  backoffDelayMs,
  classifyError,
  decideRetry,
  defaultRetryPolicy,
  ForwardError,
  withRetry,
} from "../../../src/forward/retry.js";

const err = (code: Code, metadata?: Record<string, string>) => new ConnectError("x", code, metadata);

describe("classifyError", () => {
  it.each([
    Code.Unavailable,
    Code.ResourceExhausted,
    Code.DeadlineExceeded,
    Code.Aborted,
    Code.Unknown,
    Code.Internal,
  ])("retries %s", (code) => {
    expect(classifyError(err(code)).retryable).toBe(true);
  });

  it.each([
    [Code.Unauthenticated, "ERR_TRANSCRIBER_UNAUTHENTICATED"],
    [Code.PermissionDenied, "ERR_TRANSCRIBER_PERMISSION_DENIED"],
    [Code.InvalidArgument, "ERR_TRANSCRIBER_INVALID_ARGUMENT"],
    [Code.Unimplemented, "ERR_TRANSCRIBER_REJECTED"],
    [Code.Canceled, "ERR_FORWARD_CANCELED"],
  ])("gives up on %s with %s", (code, expected) => {
    const c = classifyError(err(code));
    expect(c.retryable).toBe(false);
    if (!c.retryable) {
      expect(c.error).toBeInstanceOf(ForwardError);
      expect(c.error.code).toBe(expected);
      expect(c.error.connectCode).toBe(code);
    }
  });

  it("treats a failed fetch (TypeError) as a retryable network error", () => {
    expect(classifyError(new TypeError("fetch failed"))).toMatchObject({
      retryable: true,
      code: Code.Unknown,
    });
  });

  it("reads the server's delay from retry-after-ms, retry-after, or google.rpc.RetryInfo", () => {
    expect(classifyError(err(Code.ResourceExhausted, { "retry-after-ms": "250" }))).toMatchObject({
      retryAfterMs: 250,
    });
    expect(classifyError(err(Code.Unavailable, { "retry-after": "2" }))).toMatchObject({
      retryAfterMs: 2000,
    });
    const withDetail = err(Code.ResourceExhausted);
    // RetryInfo{retry_delay: Duration{seconds: 1, nanos: 500_000_000}}
    withDetail.details.push({ type: "google.rpc.RetryInfo", value: encodeRetryInfo(1, 500_000_000) });
    expect(classifyError(withDetail)).toMatchObject({ retryAfterMs: 1500 });
    expect(classifyError(err(Code.ResourceExhausted, { "retry-after": "soon" }))).toMatchObject({
      retryAfterMs: undefined,
    });
  });
});

function encodeRetryInfo(seconds: number, nanos: number): Uint8Array {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return out;
  };
  const duration = [0x08, ...varint(seconds), 0x10, ...varint(nanos)];
  return new Uint8Array([0x0a, duration.length, ...duration]);
}

describe("backoff", () => {
  const policy = { ...defaultRetryPolicy, baseDelayMs: 100, maxDelayMs: 1000 };

  it("is full jitter under an exponential ceiling", () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(a, policy, () => 0.999999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(200);
  });

  it("uses the server's delay instead, capped", () => {
    const d = decideRetry(err(Code.ResourceExhausted, { "retry-after-ms": "700" }), 1, 0, policy, () => 0);
    expect(d).toMatchObject({ retry: true, delayMs: 700 });
    const capped = decideRetry(err(Code.ResourceExhausted, { "retry-after-ms": "99999" }), 1, 0, policy);
    expect(capped).toMatchObject({ retry: true, delayMs: policy.maxServerDelayMs });
  });

  it("stops after maxAttempts or maxElapsedMs with ERR_TRANSCRIBER_UNAVAILABLE", () => {
    const p = { ...policy, maxAttempts: 3, maxElapsedMs: 10_000 };
    expect(decideRetry(err(Code.Unavailable), 2, 0, p, () => 0.5).retry).toBe(true);
    const byCount = decideRetry(err(Code.Unavailable), 3, 0, p, () => 0.5);
    expect(byCount.retry === false && byCount.error.code).toBe("ERR_TRANSCRIBER_UNAVAILABLE");
    const byTime = decideRetry(err(Code.Unavailable), 1, 9_990, p, () => 0.5);
    expect(byTime.retry).toBe(false);
  });
});

describe("withRetry", () => {
  it("retries on a fake clock and returns the first success", async () => {
    let now = 0;
    const sleeps: number[] = [];
    const codes = [Code.Unavailable, Code.ResourceExhausted, Code.DeadlineExceeded];
    const result = await withRetry(
      async (attempt) => {
        const code = codes[attempt - 1];
        if (code !== undefined)
          throw err(code, code === Code.ResourceExhausted ? { "retry-after-ms": "300" } : {});
        return `ok after ${attempt}`;
      },
      {
        random: () => 0.5,
        now: () => now,
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
      },
    );
    expect(result).toBe("ok after 4");
    expect(sleeps).toEqual([50, 300, 200]);
  });

  it("throws the fatal error at once", async () => {
    let calls = 0;
    const failing = withRetry(async () => {
      calls++;
      throw err(Code.Unauthenticated);
    });
    await expect(failing).rejects.toMatchObject({ code: "ERR_TRANSCRIBER_UNAUTHENTICATED" });
    expect(calls).toBe(1);
  });
});
