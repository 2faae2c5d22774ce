// One OAuth token cache for the whole deployment: a singleton Durable Object that every CallSession
// asks, so N concurrent calls cause one token request, and a restart reuses the persisted token.

import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../config";
import { createLogger } from "../log";
import { TokenError, TokenManager } from "./token-manager";

/** The broker's answer; errors are values because exceptions lose their class across RPC. */
export type BrokeredToken =
  | { ok: true; token: string; expiresAt: number }
  | { ok: true; token: null }
  | { ok: false; code: string; message: string; retryable: boolean };

export const TOKEN_BROKER_NAME = "transcription-oauth";
const SNAPSHOT_KEY = "token";

export class TokenBroker extends DurableObject<Env> {
  private manager: TokenManager | null = null;
  private readonly log = createLogger({ component: "token-broker" });

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const loaded = loadConfig(env);
    const oauth = loaded.ok ? loaded.config.transcriptionOAuth : null;
    if (!oauth) return;
    const manager = new TokenManager({
      tokenUrl: oauth.tokenUrl,
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      ...(oauth.scope ? { scope: oauth.scope } : {}),
      onToken: (snapshot) => {
        this.ctx.storage.put(SNAPSHOT_KEY, snapshot).catch(() => {});
      },
      waitUntil: (promise) => this.ctx.waitUntil(promise),
    });
    this.manager = manager;
    ctx.blockConcurrencyWhile(async () => {
      const restored = manager.restore(await ctx.storage.get(SNAPSHOT_KEY));
      this.log.log("info", "token-cache-loaded", { restored });
    });
  }

  /** A valid access token, fetched once and shared; `token: null` when no OAuth is configured. */
  async token(): Promise<BrokeredToken> {
    if (!this.manager) return { ok: true, token: null };
    try {
      const token = await this.manager.getAccessToken();
      return { ok: true, token: token.accessToken, expiresAt: token.expiresAt };
    } catch (err) {
      if (err instanceof TokenError) {
        this.log.log("error", "token-failed", { code: err.code, status: err.status, attempts: err.attempts });
        return {
          ok: false,
          code: err.code,
          message: err.message,
          retryable: err.code === "ERR_OAUTH_UNAVAILABLE",
        };
      }
      throw err;
    }
  }

  /** The transcription service refused the token: drop it so the next caller gets a fresh one. */
  async invalidate(): Promise<void> {
    this.manager?.invalidate();
    await this.ctx.storage.delete(SNAPSHOT_KEY);
  }
}
