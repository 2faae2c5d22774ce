// One simulated Genesys call: signed upgrade, open/opened, paced binary frames, pings, close/closed,
// checking every server message against the protocol and timing opened and each pong. The simulator
// runs one or many of these; the load bench (tools/bench/load.ts) imports it.

import type { AudioFormat, FrameSource } from "./audio";
import { checkServerMessage, type ServerMessage, transcriptsOf } from "./protocol";
import { audiohookHeaders } from "./sign";

export const DEV_API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
export const DEV_SECRET = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
export const DEV_ORG = "d7934305-0972-4844-938e-9060eef73d05";

export type ChannelName = "external" | "internal";

export interface CallOptions {
  /** ws:// or wss:// URL of an AudioHook endpoint. */
  url: string;
  apiKey: string;
  /** Base64 client secret; null sends an unsigned upgrade. */
  secret: string | null;
  organizationId: string;
  /** Sent in `open`; null sends none. */
  language: string | null;
  format: AudioFormat;
  channels: ChannelName[];
  frameMs: number;
  /** 1 is real time; 0 sends as fast as the socket takes it. */
  speed: number;
  pingIntervalMs: number;
  source: FrameSource;
  /** Aborting ends the audio early; the call still closes normally. */
  signal?: AbortSignal;
  sessionId?: string;
  /** How long to wait for `opened` and for `closed` (default 10 s each). */
  replyTimeoutMs?: number;
  /** Human-readable lines (opened, transcripts, disconnect, closed), for the single-call mode. */
  log?: (line: string) => void;
}

export type CallPhase = "connecting" | "opening" | "streaming" | "closing" | "done" | "failed";

export interface CallResult {
  sessionId: string;
  /** Opened, streamed, and closed with `closed` after our `close`, with no protocol error. */
  ok: boolean;
  /** Why the call did not complete (null when it did). */
  failure: string | null;
  protocolErrors: string[];
  /** Upgrade request to open socket. */
  connectMs: number | null;
  /** `open` sent to `opened` received. */
  openedMs: number | null;
  pongMs: number[];
  pingsUnanswered: number;
  transcripts: number;
  finalTranscripts: number;
  /** Distinct language tags seen in transcripts. */
  languages: string[];
  framesSent: number;
  /** Audio sent, in samples per channel. */
  samplesSent: number;
  disconnect: { reason: string; info: string | null } | null;
  durationMs: number;
}

const SERVER_TIMEOUT_MS = 10_000;

/** Position as AudioHook writes it: seconds only, e.g. PT12.34S. */
export function position(samples: number): string {
  return `PT${(samples / 8000).toFixed(3).replace(/\.?0+$/, "") || "0"}S`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SimulatedCall {
  readonly sessionId: string;
  phase: CallPhase = "connecting";
  framesSent = 0;
  samplesSent = 0;
  transcripts = 0;
  readonly languages = new Set<string>();
  readonly protocolErrors: string[] = [];
  readonly pongMs: number[] = [];
  private finals = 0;
  private seq = 0;
  private serverseq = 0;
  private ws: WebSocket | null = null;
  private readonly pings = new Map<number, number>();
  private readonly waiters = new Map<string, () => void>();
  private socketClosed = false;
  private disconnect: CallResult["disconnect"] = null;
  private closeSent = false;
  private closedReceived = false;
  private openedReceived = false;
  private paused = false;

  constructor(private readonly options: CallOptions) {
    this.sessionId = options.sessionId ?? crypto.randomUUID();
  }

  async run(): Promise<CallResult> {
    const started = performance.now();
    let connectMs: number | null = null;
    let openedMs: number | null = null;
    let failure: string | null = null;
    try {
      const connectStart = performance.now();
      await this.connect();
      connectMs = performance.now() - connectStart;
      this.phase = "opening";
      const openStart = performance.now();
      this.send("open", this.openParameters());
      if (!(await this.waitFor("opened"))) throw new Error(this.ended("no opened"));
      openedMs = performance.now() - openStart;
      this.phase = "streaming";
      await this.stream();
      this.phase = "closing";
      if (!this.socketClosed && !this.closeSent) this.close("end");
      if (!(await this.waitFor("closed"))) throw new Error(this.ended("no closed after close"));
      if (this.disconnect !== null && this.disconnect.reason !== "completed") {
        throw new Error(
          `disconnected: ${this.disconnect.reason}${this.disconnect.info ? ` (${this.disconnect.info})` : ""}`,
        );
      }
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    } finally {
      this.shutdown();
    }
    this.phase = failure === null ? "done" : "failed";
    return {
      sessionId: this.sessionId,
      ok: failure === null && this.protocolErrors.length === 0,
      failure,
      protocolErrors: [...this.protocolErrors],
      connectMs,
      openedMs,
      pongMs: [...this.pongMs],
      pingsUnanswered: this.pings.size,
      transcripts: this.transcripts,
      finalTranscripts: this.finals,
      languages: [...this.languages].sort(),
      framesSent: this.framesSent,
      samplesSent: this.samplesSent,
      disconnect: this.disconnect,
      durationMs: performance.now() - started,
    };
  }

  private async connect(): Promise<void> {
    const url = new URL(this.options.url);
    const headers = await audiohookHeaders({
      target: url.pathname + url.search,
      authority: url.host,
      apiKey: this.options.apiKey,
      secret: this.options.secret,
      organizationId: this.options.organizationId,
      sessionId: this.sessionId,
      correlationId: crypto.randomUUID(),
    });
    // Node 22's WebSocket (undici) takes headers in its second argument; the types here are the Workers ones.
    const ws = new WebSocket(url.toString(), { headers } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => {
      this.socketClosed = true;
      if (!this.closedReceived) this.options.log?.(`socket closed: ${event.code} ${event.reason}`);
      for (const wake of this.waiters.values()) wake();
    });
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener(
        "error",
        () => reject(new Error(`cannot connect to ${url} (upgrade refused or no server)`)),
        {
          once: true,
        },
      );
    });
  }

  private openParameters(): Record<string, unknown> {
    return {
      organizationId: this.options.organizationId,
      conversationId: crypto.randomUUID(),
      participant: {
        id: crypto.randomUUID(),
        ani: "+15551230000",
        aniName: "Simulated caller",
        dnis: "+15557650000",
      },
      media: [{ type: "audio", format: this.options.format, channels: this.options.channels, rate: 8000 }],
      ...(this.options.language === null ? {} : { language: this.options.language }),
    };
  }

  private async stream(): Promise<void> {
    const { frameMs, speed, source, signal, pingIntervalMs } = this.options;
    const samples = Math.round((frameMs / 1000) * 8000);
    const started = performance.now();
    let lastPing = started;
    for (let index = 0; ; index++) {
      if (this.socketClosed || this.disconnect !== null || signal?.aborted) return;
      const now = performance.now();
      if (now - lastPing >= pingIntervalMs) {
        this.pings.set(this.seq + 1, now);
        this.send("ping");
        lastPing = now;
      }
      const frame = source(index, samples);
      if (frame === null) return;
      if (!this.paused) {
        (this.ws as WebSocket).send(frame);
        this.framesSent += 1;
        // A short last frame carries fewer samples.
        this.samplesSent += frame.length / this.bytesPerFrameSample();
      }
      const sentSamples = (index + 1) * samples;
      if (speed > 0) {
        const due = started + (sentSamples / 8000 / speed) * 1000;
        await sleep(Math.max(0, due - performance.now()));
      } else {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  private bytesPerFrameSample(): number {
    return this.options.channels.length * (this.options.format === "PCMU" ? 1 : 2);
  }

  private send(type: string, parameters: Record<string, unknown> = {}): void {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return;
    this.seq += 1;
    ws.send(
      JSON.stringify({
        version: "2",
        id: this.sessionId,
        type,
        seq: this.seq,
        serverseq: this.serverseq,
        position: position(this.samplesSent),
        parameters,
      }),
    );
  }

  private close(reason: "end" | "disconnect"): void {
    this.closeSent = true;
    this.send("close", { reason });
  }

  private receive(data: unknown): void {
    if (typeof data !== "string") {
      this.protocolError("the server sent a binary frame");
      return;
    }
    const { message, errors } = checkServerMessage(data, {
      sessionId: this.sessionId,
      lastServerSeq: this.serverseq,
      lastClientSeq: this.seq,
    });
    for (const error of errors) this.protocolError(error);
    if (message === null) return;
    this.serverseq = message.seq;
    this.handle(message);
    this.waiters.get(message.type)?.();
  }

  private handle(message: ServerMessage): void {
    const log = this.options.log;
    const p = message.parameters;
    if (this.phase === "opening" && !["opened", "disconnect"].includes(message.type)) {
      this.protocolError(`${message.type} before opened`);
    }
    switch (message.type) {
      case "opened": {
        const offered = JSON.stringify({
          type: "audio",
          format: this.options.format,
          channels: this.options.channels,
          rate: 8000,
        });
        const media = Array.isArray(p.media) ? p.media : [];
        if (media.length !== 1 || JSON.stringify(media[0]) !== offered) {
          this.protocolError(`opened: media ${JSON.stringify(p.media)} is not our one offer`);
        }
        this.openedReceived = true;
        this.paused = p.startPaused === true;
        log?.(`opened: ${JSON.stringify(p)}`);
        break;
      }
      case "pong": {
        const sentAt = this.pings.get(message.clientseq);
        if (sentAt === undefined) this.protocolError(`pong: clientseq ${message.clientseq} answers no ping`);
        else {
          this.pings.delete(message.clientseq);
          this.pongMs.push(performance.now() - sentAt);
        }
        break;
      }
      case "event": {
        const { transcripts, errors } = transcriptsOf(message, this.options.channels.length);
        for (const error of errors) this.protocolError(error);
        for (const t of transcripts) {
          this.transcripts += 1;
          if (t.isFinal) this.finals += 1;
          for (const language of t.languages) this.languages.add(language);
          log?.(`transcript ch${t.channelId} ${t.offset}+${t.duration} [${t.languages.join(",")}] ${t.text}`);
        }
        break;
      }
      case "disconnect": {
        this.disconnect = {
          reason: String(p.reason),
          info: typeof p.info === "string" ? p.info : null,
        };
        log?.(`disconnect: ${JSON.stringify(p)}`);
        if (!this.closeSent) this.close("disconnect");
        // Whoever waits for opened learns now that it will not come.
        this.waiters.get("opened")?.();
        break;
      }
      case "closed":
        if (!this.closeSent) this.protocolError("closed before we sent close");
        this.closedReceived = true;
        log?.("closed");
        break;
      case "pause":
        this.paused = true;
        log?.("pause");
        break;
      case "resume":
        this.paused = false;
        log?.("resume");
        break;
      default:
        log?.(`${message.type}: ${JSON.stringify(p)}`);
    }
  }

  private protocolError(error: string): void {
    this.protocolErrors.push(error);
    this.options.log?.(`protocol error: ${error}`);
  }

  /** Resolves true once a message of this type arrives, false on timeout or a closed socket. */
  private async waitFor(type: "opened" | "closed"): Promise<boolean> {
    const seen = () => (type === "opened" ? this.openedReceived : this.closedReceived);
    if (seen()) return true;
    const timeout = this.options.replyTimeoutMs ?? SERVER_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout);
      this.waiters.set(type, resolve);
      if (this.socketClosed) resolve();
    });
    clearTimeout(timer);
    this.waiters.delete(type);
    return seen();
  }

  private ended(what: string): string {
    if (this.disconnect !== null) {
      return `disconnected: ${this.disconnect.reason}${this.disconnect.info ? ` (${this.disconnect.info})` : ""}`;
    }
    return this.socketClosed
      ? `${what}: the socket closed`
      : `${what} within ${this.options.replyTimeoutMs ?? SERVER_TIMEOUT_MS} ms`;
  }

  private shutdown(): void {
    const ws = this.ws;
    if (ws !== null && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
      try {
        ws.close(1000, "done");
      } catch {
        // Already closing.
      }
    }
  }
}
