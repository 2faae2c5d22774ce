// A test client that behaves as Genesys Cloud does: signs the upgrade, numbers its messages,
// tracks serverseq and position, and records what the server sends.

import { SELF } from "cloudflare:test";
import type { ServerMessage } from "../../tools/simulator/protocol";
import { audiohookHeaders } from "../../tools/simulator/sign";

export const DEV_API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
export const DEV_SECRET = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
/** Configured in vitest.config.ts with an empty secret: unsigned upgrades allowed. */
export const UNSIGNED_API_KEY = "dW5zaWduZWQta2V5LWZvci10ZXN0cw";
export const ORG_ID = "d7934305-0972-4844-938e-9060eef73d05";
export const ZERO_UUID = "00000000-0000-0000-0000-000000000000";

export type { ServerMessage };

export type Received =
  | { kind: "message"; message: ServerMessage }
  | { kind: "close"; code: number; reason: string };

export interface UpgradeOptions {
  path?: string;
  sessionId?: string;
  organizationId?: string;
  correlationId?: string;
  apiKey?: string;
  secret?: string | null;
  nonce?: string;
  created?: number;
  expires?: number;
  omit?: string[];
  extraHeaders?: Record<string, string>;
}

const HOST = "audiohook.test";

/** Builds the upgrade headers, signed the way Genesys signs them when a secret is given. */
export async function upgradeHeaders(
  options: UpgradeOptions = {},
): Promise<{ url: string; headers: Headers }> {
  const path = options.path ?? "/api/v1/voicetranscription/ws";
  const signed = await audiohookHeaders({
    target: path,
    authority: HOST,
    apiKey: options.apiKey ?? DEV_API_KEY,
    secret: options.secret === undefined ? DEV_SECRET : options.secret,
    organizationId: options.organizationId ?? ORG_ID,
    sessionId: options.sessionId ?? crypto.randomUUID(),
    correlationId: options.correlationId ?? crypto.randomUUID(),
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
    ...(options.created !== undefined ? { created: options.created } : {}),
    ...(options.expires !== undefined ? { expires: options.expires } : {}),
  });
  const headers = new Headers({ upgrade: "websocket", ...signed, ...options.extraHeaders });
  for (const name of options.omit ?? []) headers.delete(name);
  return { url: `https://${HOST}${path}`, headers };
}

export async function upgrade(options: UpgradeOptions = {}): Promise<Response> {
  const { url, headers } = await upgradeHeaders(options);
  return SELF.fetch(url, { headers });
}

export class GenesysClient {
  seq = 0;
  serverseq = 0;
  /** Audio sent so far, in samples per channel (what `position` reports). */
  positionSamples = 0;
  private readonly received: Received[] = [];
  private waiters: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly sessionId: string,
  ) {
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(event.data as string) as ServerMessage;
      this.serverseq = message.seq;
      this.push({ kind: "message", message });
    });
    ws.addEventListener("close", (event) =>
      this.push({ kind: "close", code: event.code, reason: event.reason }),
    );
  }

  private push(item: Received): void {
    this.received.push(item);
    for (const wake of this.waiters.splice(0)) wake();
  }

  static async connect(options: UpgradeOptions = {}): Promise<GenesysClient> {
    const sessionId = options.sessionId ?? crypto.randomUUID();
    const response = await upgrade({ ...options, sessionId });
    if (response.status !== 101 || !response.webSocket) {
      throw new Error(`upgrade failed: ${response.status} ${await response.text()}`);
    }
    response.webSocket.accept();
    return new GenesysClient(response.webSocket, sessionId);
  }

  position(): string {
    return `PT${(this.positionSamples / 8000).toFixed(3).replace(/\.?0+$/, "") || "0"}S`;
  }

  send(
    type: string,
    parameters: Record<string, unknown> = {},
    overrides: Record<string, unknown> = {},
  ): void {
    this.seq += 1;
    this.ws.send(
      JSON.stringify({
        version: "2",
        id: this.sessionId,
        type,
        seq: this.seq,
        serverseq: this.serverseq,
        position: this.position(),
        parameters,
        ...overrides,
      }),
    );
  }

  sendRaw(data: string | ArrayBuffer): void {
    this.ws.send(data);
  }

  /** Sends interleaved audio; `samples` is per channel. */
  sendAudio(bytes: Uint8Array, samples: number): void {
    this.ws.send(bytes);
    this.positionSamples += samples;
  }

  open(parameters: Record<string, unknown> = {}): void {
    this.send("open", {
      organizationId: ORG_ID,
      conversationId: crypto.randomUUID(),
      participant: { id: crypto.randomUUID(), ani: "+15551234567", aniName: "Caller", dnis: "+15557654321" },
      media: [{ type: "audio", format: "PCMU", channels: ["external", "internal"], rate: 8000 }],
      language: "en-US",
      ...parameters,
    });
  }

  /** The next thing received (message or close), waiting up to `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error("timed out waiting for the server");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.shift() as Received;
  }

  async expect(type: string, timeoutMs?: number): Promise<ServerMessage> {
    const item = await this.next(timeoutMs);
    if (item.kind !== "message") throw new Error(`expected ${type}, got close ${item.code} ${item.reason}`);
    if (item.message.type !== type) {
      throw new Error(
        `expected ${type}, got ${item.message.type} ${JSON.stringify(item.message.parameters)}`,
      );
    }
    return item.message;
  }

  async expectClose(timeoutMs?: number): Promise<{ code: number; reason: string }> {
    for (;;) {
      const item = await this.next(timeoutMs);
      if (item.kind === "close") return item;
    }
  }

  /** Expects the server to end the call with `disconnect` and then close the socket. */
  async expectDisconnect(reason: string, infoPattern?: RegExp): Promise<ServerMessage> {
    const message = await this.expect("disconnect");
    if (message.parameters.reason !== reason) {
      throw new Error(`expected disconnect ${reason}, got ${JSON.stringify(message.parameters)}`);
    }
    if (infoPattern && !infoPattern.test(String(message.parameters.info))) {
      throw new Error(
        `disconnect info ${JSON.stringify(message.parameters.info)} does not match ${infoPattern}`,
      );
    }
    return message;
  }
}

/** µ-law silence-free test audio: a tone in each channel, `ms` long, interleaved for two channels. */
export function pcmuStereo(ms: number, amplitude = 0x20): Uint8Array {
  const samples = (ms / 1000) * 8000;
  const bytes = new Uint8Array(samples * 2);
  for (let i = 0; i < samples; i++) {
    bytes[2 * i] = 0xff - (i % amplitude);
    bytes[2 * i + 1] = 0x7f - (i % amplitude);
  }
  return bytes;
}
