// The transcription service's bearer token as one call sees it: asked of the shared TokenBroker,
// then cached in the call's object until a minute before it expires (not fetched per batch).

import type { TokenBroker } from "../auth/TokenBroker";

/** Answer of the shared token cache (see auth/TokenBroker). */
export type TokenAnswer =
  | { ok: true; token: string | null }
  | { ok: false; code: string; message: string; retryable: boolean };

const KEY = "token";
const EARLY_MS = 60_000;

interface Cached {
  value: string;
  expiresAt: number;
}

export class CallToken {
  private cached: Cached | null | undefined;

  constructor(
    private readonly broker: () => DurableObjectStub<TokenBroker>,
    private readonly storage: {
      load<T>(key: string): T | null;
      store(key: string, value: unknown): void;
      remove(key: string): void;
    },
  ) {}

  async get(): Promise<TokenAnswer> {
    if (this.cached === undefined) this.cached = this.storage.load<Cached>(KEY);
    if (this.cached && this.cached.expiresAt - EARLY_MS > Date.now())
      return { ok: true, token: this.cached.value };
    const answer = await this.broker().token();
    if (answer.ok && answer.token !== null) {
      this.cached = { value: answer.token, expiresAt: answer.expiresAt };
      this.storage.store(KEY, this.cached);
    }
    return answer;
  }

  /** The service refused the token: forget it here and in the broker. */
  async invalidate(): Promise<void> {
    this.cached = null;
    this.storage.remove(KEY);
    await this.broker().invalidate();
  }
}
