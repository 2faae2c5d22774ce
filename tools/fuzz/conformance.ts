// Checks what an AudioHook server sends on one connection against the protocol, whatever the client
// sent: every text frame a v2 server message for this session, `seq` 1, 2, 3..., `clientseq` a client seq
// actually sent and never going back, `parameters` always an object, at most one `disconnect`, nothing
// after `closed`, no binary frames, nothing over 64 KiB. Pure: the fuzzer feeds it what it sees.

// The message types and framing are the simulator's: one definition for both tools.
import { SERVER_TYPES, type ServerMessage } from "../simulator/protocol";

const DISCONNECT_REASONS: ReadonlySet<string> = new Set(["completed", "unauthorized", "error"]);
const MAX_TEXT_BYTES = 64 * 1024;

export interface Violation {
  rule: string;
  detail: string;
}

export class ConformanceChecker {
  readonly violations: Violation[] = [];
  readonly received: ServerMessage[] = [];
  private readonly clientSeqs = new Set<number>([0]);
  private lastSeq = 0;
  private lastClientSeq = 0;
  private disconnects = 0;
  private closed = false;

  constructor(readonly sessionId: string) {}

  /** The client put `seq` in a message it sent (whatever the message's fate). */
  clientSent(seq: unknown): void {
    if (typeof seq === "number" && Number.isSafeInteger(seq)) this.clientSeqs.add(seq);
  }

  get sawDisconnect(): boolean {
    return this.disconnects > 0;
  }

  get sawClosed(): boolean {
    return this.closed;
  }

  get lastServerSeq(): number {
    return this.lastSeq;
  }

  binary(): void {
    this.fail("no-binary", "the server sent a binary frame");
  }

  /** One text frame from the server; returns the message when it is one. */
  text(data: string): ServerMessage | undefined {
    if (new TextEncoder().encode(data).byteLength > MAX_TEXT_BYTES)
      this.fail("size", `a ${data.length}-character message is over 64 KiB`);
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      this.fail("json", `not JSON: ${data.slice(0, 80)}`);
      return undefined;
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      this.fail("json", "not a JSON object");
      return undefined;
    }
    const m = json as Partial<ServerMessage>;
    if (this.closed) this.fail("after-closed", `${String(m.type)} after closed`);
    if (m.version !== "2") this.fail("version", `version ${JSON.stringify(m.version)}`);
    if (m.id !== this.sessionId) this.fail("id", `id ${JSON.stringify(m.id)} is not the session's`);
    if (typeof m.type !== "string" || !SERVER_TYPES.has(m.type))
      this.fail("type", `type ${JSON.stringify(m.type)} is no server message`);
    if (m.seq !== this.lastSeq + 1) this.fail("seq", `seq ${JSON.stringify(m.seq)} after ${this.lastSeq}`);
    if (typeof m.seq === "number") this.lastSeq = m.seq;
    if (typeof m.clientseq !== "number" || !this.clientSeqs.has(m.clientseq))
      this.fail("clientseq", `clientseq ${JSON.stringify(m.clientseq)} was never sent`);
    else if (m.clientseq < this.lastClientSeq)
      this.fail("clientseq", `clientseq went back from ${this.lastClientSeq} to ${m.clientseq}`);
    else this.lastClientSeq = m.clientseq;
    if (typeof m.parameters !== "object" || m.parameters === null || Array.isArray(m.parameters))
      this.fail("parameters", `${String(m.type)} without a parameters object`);
    if (m.type === "disconnect") {
      this.disconnects += 1;
      if (this.disconnects > 1) this.fail("disconnect", "a second disconnect");
      const reason = m.parameters?.reason;
      if (typeof reason !== "string" || !DISCONNECT_REASONS.has(reason))
        this.fail("disconnect", `reason ${JSON.stringify(reason)}`);
      const info = m.parameters?.info;
      if (info !== undefined && typeof info !== "string") this.fail("disconnect", "info is not a string");
    }
    if (m.type === "closed") this.closed = true;
    this.received.push(m as ServerMessage);
    return m as ServerMessage;
  }

  private fail(rule: string, detail: string): void {
    this.violations.push({ rule, detail });
  }
}

/**
 * Whether `url` points at this machine. The fuzzer refuses anything else: it is a tool for a local
 * worker, not a way to throw garbage at a deployment.
 */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.toLowerCase();
  return host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}
