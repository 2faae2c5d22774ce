// Decides whether a failed call to the transcription service is retried, and after how long: the decision
// comes from the Connect code (never the message text); backoff is exponential with full jitter.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";

/** Stable codes for the ways forwarding gives up; callers branch on these, never on messages. */
export type ForwardErrorCode =
  | "ERR_TRANSCRIBER_UNAUTHENTICATED"
  | "ERR_TRANSCRIBER_PERMISSION_DENIED"
  | "ERR_TRANSCRIBER_INVALID_ARGUMENT"
  | "ERR_TRANSCRIBER_REJECTED"
  | "ERR_TRANSCRIBER_UNAVAILABLE"
  | "ERR_FORWARD_CANCELED"
  | "ERR_OUTBOX_FULL"
  /**
   * We could not build the request (e.g. a batch position no protobuf uint64 can hold): a bug or bad
   * state on our side, never the service's fault, and no retry can fix it.
   */
  | "ERR_LOCAL_ENCODING";

export class ForwardError extends Error {
  override name = "ForwardError";
  readonly code: ForwardErrorCode;
  /** The Connect code of the failure behind this error, when there was one. */
  readonly connectCode: Code | undefined;

  constructor(
    code: ForwardErrorCode,
    message: string,
    options: { cause?: unknown; connectCode?: Code } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.connectCode = options.connectCode;
  }
}

export type ErrorClass =
  | { retryable: true; code: Code; retryAfterMs: number | undefined }
  | { retryable: false; error: ForwardError };

/**
 * Sorts a failure into retryable or fatal.
 *
 * Retried: Unavailable, ResourceExhausted, DeadlineExceeded, Aborted, and Unknown and Internal. Unknown is
 * what a failed `fetch` (connection refused or reset, DNS) and an unexpected HTTP status become, and
 * Internal what a truncated or malformed response becomes; both are usually transient between a Worker
 * and a service, and every call we make is idempotent by sequence number, so a repeat cannot duplicate
 * audio. The attempt and time limits of the policy stop a persistent fault.
 *
 * Fatal: Unauthenticated and PermissionDenied (credentials must change first), InvalidArgument, and the
 * remaining codes (Unimplemented, NotFound, FailedPrecondition...): repeating the same request would get
 * the same answer. Canceled is our own abort. A local failure to build the request (a ForwardError
 * ERR_LOCAL_ENCODING, or a RangeError) is fatal and is never reported as the service's fault.
 */
export function classifyError(err: unknown): ErrorClass {
  // Our own errors were classified where they were thrown; the Connect client may have wrapped one.
  const own =
    err instanceof ForwardError
      ? err
      : err instanceof ConnectError && err.cause instanceof ForwardError
        ? err.cause
        : undefined;
  if (own !== undefined) {
    return own.code === "ERR_TRANSCRIBER_UNAVAILABLE"
      ? { retryable: true, code: own.connectCode ?? Code.Unavailable, retryAfterMs: undefined }
      : { retryable: false, error: own };
  }
  // A RangeError (BigInt of a fraction or of Infinity, a bad array length) is local: ConnectError.from
  // would call it Unknown, which is retried, and every later batch would queue behind it for nothing.
  if (err instanceof RangeError) {
    return {
      retryable: false,
      error: new ForwardError("ERR_LOCAL_ENCODING", `could not build the request: ${err.message}`, {
        cause: err,
      }),
    };
  }
  const ce = ConnectError.from(err);
  switch (ce.code) {
    case Code.Unavailable:
    case Code.ResourceExhausted:
    case Code.DeadlineExceeded:
    case Code.Aborted:
    case Code.Unknown:
    case Code.Internal:
      return { retryable: true, code: ce.code, retryAfterMs: retryAfterMs(ce) };
    case Code.Unauthenticated:
      return fatal("ERR_TRANSCRIBER_UNAUTHENTICATED", ce);
    case Code.PermissionDenied:
      return fatal("ERR_TRANSCRIBER_PERMISSION_DENIED", ce);
    case Code.InvalidArgument:
      return fatal("ERR_TRANSCRIBER_INVALID_ARGUMENT", ce);
    case Code.Canceled:
      return fatal("ERR_FORWARD_CANCELED", ce);
    default:
      return fatal("ERR_TRANSCRIBER_REJECTED", ce);
  }
}

function fatal(code: ForwardErrorCode, ce: ConnectError): ErrorClass {
  return {
    retryable: false,
    error: new ForwardError(code, `transcription service: ${ce.rawMessage}`, {
      cause: ce,
      connectCode: ce.code,
    }),
  };
}

/**
 * The delay the server asked for, in ms, from (first found): response metadata `retry-after-ms`
 * (integer ms), metadata `retry-after` (integer seconds, as in HTTP), or a `google.rpc.RetryInfo` error
 * detail. Connect puts both headers and trailers into the error's metadata, and so does gRPC-web, whether a
 * proxy sent the status "trailers-only" (in the headers) or in the body's trailer frame.
 */
export function retryAfterMs(err: ConnectError): number | undefined {
  const ms = parseNonNegative(err.metadata.get("retry-after-ms"));
  if (ms !== undefined) return ms;
  const seconds = parseNonNegative(err.metadata.get("retry-after"));
  if (seconds !== undefined) return seconds * 1000;
  for (const detail of err.details) {
    if ("type" in detail && detail.type === "google.rpc.RetryInfo") {
      const delay = decodeRetryInfoDelayMs(detail.value);
      if (delay !== undefined) return delay;
    }
  }
  return undefined;
}

function parseNonNegative(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return undefined;
  return Number(value);
}

// google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; } read by hand: the googleapis types are
// not part of our generated code, and this is the only field we need.
function decodeRetryInfoDelayMs(bytes: Uint8Array): number | undefined {
  try {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field !== 1 || wireType !== WireType.LengthDelimited) {
        reader.skip(wireType);
        continue;
      }
      const duration = new BinaryReader(reader.bytes());
      let seconds = 0;
      let nanos = 0;
      while (duration.pos < duration.len) {
        const [f, w] = duration.tag();
        if (f === 1 && w === WireType.Varint) seconds = Number(duration.int64());
        else if (f === 2 && w === WireType.Varint) nanos = duration.int32();
        else duration.skip(w);
      }
      return Math.max(0, seconds * 1000 + Math.round(nanos / 1e6));
    }
  } catch {
    // A malformed detail is ignored: our own backoff applies.
  }
  return undefined;
}

export interface RetryPolicy {
  /** First backoff ceiling, default 100 ms. */
  baseDelayMs: number;
  /** Largest backoff ceiling, default 5000 ms. */
  maxDelayMs: number;
  /** A server-requested delay is honoured up to this, default 30000 ms. */
  maxServerDelayMs: number;
  /** Attempts in all, the first included; default 10. */
  maxAttempts: number;
  /** No retry starts later than this after the first attempt, default 60000 ms (the outbox's bound). */
  maxElapsedMs: number;
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = {
  baseDelayMs: 100,
  maxDelayMs: 5000,
  maxServerDelayMs: 30_000,
  maxAttempts: 10,
  maxElapsedMs: 60_000,
};

/** `random` returns [0, 1), like Math.random. */
export type RandomSource = () => number;

/** Full jitter: uniform in [0, min(max, base * 2^(attempt-1))), for the retry after attempt `attempt` (1-based). */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: RandomSource): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

export type RetryDecision =
  | { retry: true; delayMs: number; code: Code }
  | { retry: false; error: ForwardError };

/**
 * What to do after attempt number `attempt` (1-based) failed with `err`, `elapsedMs` after the first
 * attempt started. A server-given delay replaces the jittered one (capped by maxServerDelayMs).
 */
export function decideRetry(
  err: unknown,
  attempt: number,
  elapsedMs: number,
  policy: RetryPolicy = defaultRetryPolicy,
  random: RandomSource = Math.random,
): RetryDecision {
  const cls = classifyError(err);
  if (!cls.retryable) return { retry: false, error: cls.error };
  const delayMs =
    cls.retryAfterMs !== undefined
      ? Math.min(cls.retryAfterMs, policy.maxServerDelayMs)
      : backoffDelayMs(attempt, policy, random);
  if (attempt >= policy.maxAttempts || elapsedMs + delayMs > policy.maxElapsedMs) {
    return {
      retry: false,
      error: new ForwardError(
        "ERR_TRANSCRIBER_UNAVAILABLE",
        `transcription service still failing after ${attempt} attempts (${Code[cls.code]})`,
        { cause: err, connectCode: cls.code },
      ),
    };
  }
  return { retry: true, delayMs, code: cls.code };
}

export interface RetryOptions {
  policy?: RetryPolicy;
  random?: RandomSource;
  /** Milliseconds, default Date.now. */
  now?: () => number;
  /** Default setTimeout; tests pass one that advances a fake clock. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log. */
  onRetry?: (info: { attempt: number; delayMs: number; code: Code }) => void;
}

/**
 * Runs `call` until it succeeds or the policy gives up; throws a ForwardError then. For a Durable Object
 * that retries from an alarm instead, use decideRetry directly.
 */
export async function withRetry<T>(
  call: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const policy = options.policy ?? defaultRetryPolicy;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (err) {
      if (options.signal?.aborted) {
        throw new ForwardError("ERR_FORWARD_CANCELED", "forwarding canceled", { cause: err });
      }
      const decision = decideRetry(err, attempt, now() - started, policy, options.random);
      if (!decision.retry) throw decision.error;
      options.onRetry?.({ attempt, delayMs: decision.delayMs, code: decision.code });
      await sleep(decision.delayMs, options.signal);
    }
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
