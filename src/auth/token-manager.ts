// OAuth 2.0 client-credentials tokens (RFC 6749 §4.4): fetched once, cached, refreshed before expiry,
// retried on transient failures, and exported as plain JSON so a Durable Object can persist them.

export type TokenErrorCode =
  /** 401, or 400 with `invalid_client`: the client id/secret were not accepted. */
  | "ERR_OAUTH_INVALID_CLIENT"
  /** 403, or 400 with `unauthorized_client`: the client may not use this grant. */
  | "ERR_OAUTH_FORBIDDEN"
  /** 400 with `invalid_scope`. */
  | "ERR_OAUTH_INVALID_SCOPE"
  /** Any other 400, or another non-retryable 4xx (404 means a wrong token URL). */
  | "ERR_OAUTH_REJECTED"
  /** 200 whose body is not a usable token response. */
  | "ERR_OAUTH_BAD_RESPONSE"
  /** Retries exhausted (429, 408, 5xx, network errors, timeouts) or the retry budget would be exceeded. */
  | "ERR_OAUTH_UNAVAILABLE";

/** Thrown by {@link TokenManager.getToken}; callers branch on `code`, never on `message`. */
export class TokenError extends Error {
  override readonly name = "TokenError";
  readonly code: TokenErrorCode;
  /** HTTP status of the last response, when there was one. */
  readonly status: number | undefined;
  /** The OAuth `error` field of the last response body, when there was one. */
  readonly oauthError: string | undefined;
  /** Token requests made for this failure (1 for a fail-fast error). */
  readonly attempts: number;

  constructor(
    code: TokenErrorCode,
    message: string,
    details: { status?: number; oauthError?: string; attempts: number; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.oauthError = details.oauthError;
    this.attempts = details.attempts;
  }
}

export interface AccessToken {
  readonly accessToken: string;
  /** As the server sent it, usually "Bearer". */
  readonly tokenType: string;
  /** The granted scope when the server returned one. */
  readonly scope: string | undefined;
  /** Epoch ms. */
  readonly issuedAt: number;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** The cached token as plain JSON; `key` ties it to the token URL, client id and scope it was issued for. */
export interface TokenSnapshot {
  readonly version: 1;
  readonly key: string;
  readonly accessToken: string;
  readonly tokenType: string;
  readonly scope?: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export type RestoreResult = "restored" | "expired" | "other-client" | "malformed";

export interface RetryPolicy {
  /** Token requests per refresh, the first included. Default 5. */
  readonly maxAttempts: number;
  /** Backoff base: attempt n waits random() * min(maxDelayMs, baseDelayMs * 2^(n-1)). Default 250. */
  readonly baseDelayMs: number;
  /** Default 10 000. */
  readonly maxDelayMs: number;
  /** No wait is started that would end later than this after the first request. Default 30 000. */
  readonly maxTotalMs: number;
}

export interface TokenManagerOptions {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Space-separated; omitted from the request when undefined. */
  readonly scope?: string;
  /** Extra form fields some servers want (e.g. `audience`). */
  readonly extraParams?: Readonly<Record<string, string>>;
  /** "basic" (default, RFC 6749 §2.3.1) or "body" (client_id/client_secret as form fields). */
  readonly clientAuth?: "basic" | "body";
  readonly retry?: Partial<RetryPolicy>;
  /** Abort one token request after this long. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** Lifetime assumed when the response has no `expires_in`. Default 300 s: short, so a guess errs safe. */
  readonly defaultExpiresInSec?: number;
  /** A token this close to expiry is not handed out any more. Default 10 000. */
  readonly expiryMarginMs?: number;
  /** After a failed background refresh, the next one waits this long (the cached token stays in use). Default 15 000. */
  readonly refreshCooldownMs?: number;
  /** Called with each newly fetched token, e.g. to persist it in Durable Object storage. */
  readonly onToken?: (snapshot: TokenSnapshot) => void | Promise<void>;
  /** Receives background refreshes so the runtime keeps them alive (a Worker's `ctx.waitUntil`). */
  readonly waitUntil?: (work: Promise<unknown>) => void;
  readonly fetch?: typeof fetch;
  /** Epoch ms. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** In [0, 1). */
  readonly random?: () => number;
}

const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  maxTotalMs: 30_000,
};
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
const REFRESH_AT_FRACTION = 0.8;
// Floor for the refresh point, so a token living under ~10 minutes is not refetched on every call.
const REFRESH_NOT_BEFORE_FRACTION = 0.5;
const MAX_DESCRIPTION_CHARS = 200;

/**
 * When to refresh a token: the earlier of 5 minutes before expiry and 80% of its lifetime,
 * but never before half of its lifetime.
 */
export function refreshAt(token: Pick<AccessToken, "issuedAt" | "expiresAt">): number {
  const lifetime = token.expiresAt - token.issuedAt;
  const earlier = Math.min(
    token.expiresAt - REFRESH_BEFORE_EXPIRY_MS,
    token.issuedAt + REFRESH_AT_FRACTION * lifetime,
  );
  return Math.max(earlier, token.issuedAt + REFRESH_NOT_BEFORE_FRACTION * lifetime);
}

/** `Retry-After` (delta-seconds or HTTP-date) → ms to wait, or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Client-credentials token source; one per (token URL, client, scope). */
export class TokenManager {
  readonly #opts: TokenManagerOptions;
  readonly #retry: RetryPolicy;
  readonly #key: string;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  #token: AccessToken | undefined;
  #inflight: Promise<AccessToken> | undefined;
  #backgroundNotBefore = 0;
  #lastBackgroundError: TokenError | undefined;

  constructor(options: TokenManagerOptions) {
    this.#opts = options;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#key = `${options.tokenUrl} ${options.clientId} ${options.scope ?? ""}`;
    // Bound, because a bare reference to the global fetch loses its receiver in workerd.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
  }

  /** The access token to send, fetching or refreshing it as needed. Throws {@link TokenError}. */
  async getToken(): Promise<string> {
    return (await this.getAccessToken()).accessToken;
  }

  async getAccessToken(): Promise<AccessToken> {
    const token = this.#token;
    const now = this.#now();
    if (token !== undefined && now < token.expiresAt - this.#expiryMargin()) {
      // Still valid: refresh in the background when due, so no caller waits on the token server.
      if (now >= refreshAt(token)) this.#refreshInBackground(now);
      return token;
    }
    return this.refresh();
  }

  /** Fetches a new token now (joining one already in flight). Throws {@link TokenError}. */
  refresh(): Promise<AccessToken> {
    if (this.#inflight === undefined) {
      this.#inflight = this.#fetchWithRetries().finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  /** Drops the cached token, e.g. after the resource server answered 401 to it. */
  invalidate(): void {
    this.#token = undefined;
  }

  /** The error of the last failed background refresh, cleared by the next success. */
  get lastBackgroundError(): TokenError | undefined {
    return this.#lastBackgroundError;
  }

  snapshot(): TokenSnapshot | undefined {
    return this.#token === undefined ? undefined : this.#toSnapshot(this.#token);
  }

  /** Adopts a persisted token unless it is malformed, for another client/URL/scope, or (nearly) expired. */
  restore(snapshot: unknown): RestoreResult {
    if (!isSnapshot(snapshot)) return "malformed";
    if (snapshot.key !== this.#key) return "other-client";
    if (this.#now() >= snapshot.expiresAt - this.#expiryMargin()) return "expired";
    this.#token = {
      accessToken: snapshot.accessToken,
      tokenType: snapshot.tokenType,
      scope: snapshot.scope,
      issuedAt: snapshot.issuedAt,
      expiresAt: snapshot.expiresAt,
    };
    return "restored";
  }

  #expiryMargin(): number {
    return this.#opts.expiryMarginMs ?? 10_000;
  }

  #refreshInBackground(now: number): void {
    if (this.#inflight !== undefined || now < this.#backgroundNotBefore) return;
    const work = this.refresh().then(
      () => {
        this.#lastBackgroundError = undefined;
      },
      (error: unknown) => {
        // The cached token is still valid; keep serving it and try again after a pause.
        this.#lastBackgroundError = error instanceof TokenError ? error : undefined;
        this.#backgroundNotBefore = this.#now() + (this.#opts.refreshCooldownMs ?? 15_000);
      },
    );
    this.#opts.waitUntil?.(work);
  }

  async #fetchWithRetries(): Promise<AccessToken> {
    const started = this.#now();
    let attempt = 0;
    for (;;) {
      attempt += 1;
      const outcome = await this.#requestOnce(attempt);
      if (outcome.kind === "token") {
        this.#token = outcome.token;
        this.#lastBackgroundError = undefined;
        try {
          await this.#opts.onToken?.(this.#toSnapshot(outcome.token));
        } catch {
          // Persisting only saves a token request after a restart; not worth failing the caller for.
        }
        return outcome.token;
      }
      if (outcome.kind === "fatal") throw outcome.error;

      const { error, retryAfterMs } = outcome;
      if (attempt >= this.#retry.maxAttempts) {
        throw unavailable(`${error.message}; gave up after ${attempt} attempts`, error, attempt);
      }
      const backoffCap = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
      const delay = retryAfterMs ?? Math.floor(this.#random() * backoffCap);
      if (this.#now() + delay - started > this.#retry.maxTotalMs) {
        const why = retryAfterMs === undefined ? "" : ` (server asked to wait ${Math.ceil(delay / 1000)} s)`;
        throw unavailable(
          `${error.message}; retry budget of ${this.#retry.maxTotalMs} ms exhausted${why}`,
          error,
          attempt,
        );
      }
      await this.#sleep(delay);
    }
  }

  async #requestOnce(attempt: number): Promise<RequestOutcome> {
    const { clientId, clientSecret } = this.#opts;
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (this.#opts.scope !== undefined) form.set("scope", this.#opts.scope);
    for (const [name, value] of Object.entries(this.#opts.extraParams ?? {})) form.set(name, value);
    const headers = new Headers({
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    });
    if ((this.#opts.clientAuth ?? "basic") === "basic") {
      // RFC 6749 §2.3.1: each part is form-encoded before base64.
      headers.set("authorization", `Basic ${btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`)}`);
    } else {
      form.set("client_id", clientId);
      form.set("client_secret", clientSecret);
    }

    const issuedAt = this.#now();
    let response: Response;
    let text: string;
    // A timer cleared on completion rather than AbortSignal.timeout: a pending timeout keeps a
    // Durable Object busy (eviction and hibernation wait for it).
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new DOMException("token request timed out", "TimeoutError")),
      this.#opts.requestTimeoutMs ?? 10_000,
    );
    try {
      response = await this.#fetch(this.#opts.tokenUrl, {
        method: "POST",
        headers,
        body: form.toString(),
        signal: abort.signal,
      });
      text = await response.text();
    } catch (cause) {
      const what = cause instanceof Error && cause.name === "TimeoutError" ? "timed out" : "failed";
      return {
        kind: "retry",
        error: unavailable(`token request to ${this.#opts.tokenUrl} ${what}`, cause, attempt),
      };
    } finally {
      clearTimeout(timer);
    }

    const status = response.status;
    if (status === 200) return this.#readToken(text, issuedAt, attempt);

    const body = readErrorBody(text, clientSecret);
    const detail =
      body.error === undefined ? "" : `: ${body.error}${body.description ? ` (${body.description})` : ""}`;
    const where = `token endpoint ${this.#opts.tokenUrl} answered HTTP ${status}${detail}`;
    const info = { status, oauthError: body.error, attempts: attempt };
    if (status === 429 || status === 408 || status >= 500) {
      return {
        kind: "retry",
        error: new TokenError("ERR_OAUTH_UNAVAILABLE", where, info),
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), this.#now()),
      };
    }
    const code = classifyRejection(status, body.error);
    return {
      kind: "fatal",
      error: new TokenError(code, `${REJECTION_CAUSE[code]} for client "${clientId}": ${where}`, info),
    };
  }

  #readToken(text: string, issuedAt: number, attempt: number): RequestOutcome {
    const bad = (why: string): RequestOutcome => ({
      kind: "fatal",
      error: new TokenError(
        "ERR_OAUTH_BAD_RESPONSE",
        `token endpoint ${this.#opts.tokenUrl} answered 200 but ${why}`,
        {
          status: 200,
          attempts: attempt,
        },
      ),
    });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return bad("the body is not JSON");
    }
    if (typeof body !== "object" || body === null) return bad("the body is not a JSON object");
    const fields = body as Record<string, unknown>;
    if (typeof fields.access_token !== "string" || fields.access_token === "")
      return bad("without access_token");
    // Some servers send expires_in as a numeric string.
    const expiresIn =
      fields.expires_in === undefined ? (this.#opts.defaultExpiresInSec ?? 300) : Number(fields.expires_in);
    if (!Number.isFinite(expiresIn) || expiresIn <= 0) return bad("with an unusable expires_in");
    return {
      kind: "token",
      token: {
        accessToken: fields.access_token,
        tokenType: typeof fields.token_type === "string" ? fields.token_type : "Bearer",
        scope: typeof fields.scope === "string" ? fields.scope : this.#opts.scope,
        issuedAt,
        expiresAt: issuedAt + expiresIn * 1000,
      },
    };
  }

  #toSnapshot(token: AccessToken): TokenSnapshot {
    return {
      version: 1,
      key: this.#key,
      accessToken: token.accessToken,
      tokenType: token.tokenType,
      ...(token.scope === undefined ? {} : { scope: token.scope }),
      issuedAt: token.issuedAt,
      expiresAt: token.expiresAt,
    };
  }
}

type RequestOutcome =
  | { kind: "token"; token: AccessToken }
  | { kind: "retry"; error: TokenError; retryAfterMs?: number | undefined }
  | { kind: "fatal"; error: TokenError };

const REJECTION_CAUSE: Record<
  Exclude<TokenErrorCode, "ERR_OAUTH_UNAVAILABLE" | "ERR_OAUTH_BAD_RESPONSE">,
  string
> = {
  ERR_OAUTH_INVALID_CLIENT: "client credentials rejected",
  ERR_OAUTH_FORBIDDEN: "client not allowed to obtain a token",
  ERR_OAUTH_INVALID_SCOPE: "requested scope rejected",
  ERR_OAUTH_REJECTED: "token request rejected",
};

function classifyRejection(status: number, oauthError: string | undefined): keyof typeof REJECTION_CAUSE {
  if (oauthError === "invalid_client") return "ERR_OAUTH_INVALID_CLIENT";
  if (oauthError === "invalid_scope") return "ERR_OAUTH_INVALID_SCOPE";
  if (oauthError === "unauthorized_client") return "ERR_OAUTH_FORBIDDEN";
  if (status === 401) return "ERR_OAUTH_INVALID_CLIENT";
  if (status === 403) return "ERR_OAUTH_FORBIDDEN";
  return "ERR_OAUTH_REJECTED";
}

function unavailable(message: string, cause: unknown, attempts: number): TokenError {
  const last = cause instanceof TokenError ? cause : undefined;
  return new TokenError("ERR_OAUTH_UNAVAILABLE", message, {
    ...(last?.status === undefined ? {} : { status: last.status }),
    ...(last?.oauthError === undefined ? {} : { oauthError: last.oauthError }),
    attempts,
    cause,
  });
}

/** The OAuth error fields of a failure body, trimmed, and with the secret removed should a server echo it. */
function readErrorBody(text: string, secret: string): { error?: string; description?: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof body !== "object" || body === null) return {};
  const fields = body as Record<string, unknown>;
  const clean = (value: unknown): string | undefined => {
    if (typeof value !== "string" || value === "") return undefined;
    const redacted = secret === "" ? value : value.split(secret).join("[redacted]");
    return redacted.length > MAX_DESCRIPTION_CHARS
      ? `${redacted.slice(0, MAX_DESCRIPTION_CHARS)}…`
      : redacted;
  };
  const error = clean(fields.error);
  const description = clean(fields.error_description);
  return { ...(error === undefined ? {} : { error }), ...(description === undefined ? {} : { description }) };
}

function formEncode(value: string): string {
  return new URLSearchParams([["", value]]).toString().slice(1);
}

function isSnapshot(value: unknown): value is TokenSnapshot {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    s.version === 1 &&
    typeof s.key === "string" &&
    typeof s.accessToken === "string" &&
    s.accessToken !== "" &&
    typeof s.tokenType === "string" &&
    (s.scope === undefined || typeof s.scope === "string") &&
    typeof s.issuedAt === "number" &&
    Number.isFinite(s.issuedAt) &&
    typeof s.expiresAt === "number" &&
    Number.isFinite(s.expiresAt)
  );
}
