// Programmable failures for tests: the server answers UNAVAILABLE for a while, RESOURCE_EXHAUSTED with a
// retry delay, or UNAUTHENTICATED, for chosen RPCs, before doing any work (so nothing is half-processed).
import { Code, ConnectError } from "@connectrpc/connect";

export type Fault =
  /** Every matching call fails with UNAVAILABLE for `forMs` from when the fault is added. */
  | { kind: "unavailable"; forMs: number; methods?: string[]; sessions?: string[] }
  /** The next `calls` matching calls fail with RESOURCE_EXHAUSTED and metadata retry-after-ms. */
  | {
      kind: "resource-exhausted";
      calls: number;
      retryAfterMs: number;
      methods?: string[];
      sessions?: string[];
    }
  /** The next `calls` matching calls fail with UNAUTHENTICATED. */
  | { kind: "unauthenticated"; calls: number; methods?: string[]; sessions?: string[] }
  /** The next `calls` matching calls do their work, then fail with UNAVAILABLE: a response lost on the way. */
  | { kind: "lose-response"; calls: number; methods?: string[]; sessions?: string[] };

interface Armed {
  fault: Fault;
  until: number;
  left: number;
}

export class FaultPlan {
  #armed: Armed[] = [];
  injected = 0;
  readonly #now: () => number;

  constructor(faults: Fault[] = [], now: () => number = Date.now) {
    this.#now = now;
    for (const f of faults) this.add(f);
  }

  add(fault: Fault): void {
    this.#armed.push({
      fault,
      until: fault.kind === "unavailable" ? this.#now() + fault.forMs : Number.POSITIVE_INFINITY,
      left: fault.kind === "unavailable" ? Number.POSITIVE_INFINITY : fault.calls,
    });
  }

  clear(): void {
    this.#armed = [];
  }

  /**
   * Throws the first armed fault that matches `method` (e.g. "PushAudio") and, when the fault names
   * sessions, the call's session (so concurrent tests do not disturb each other), using it up.
   */
  check(method: string, sessionId?: string): void {
    this.#fire(method, sessionId, false);
  }

  /** After the work is done: throws an armed `lose-response` fault that matches. */
  checkAfter(method: string, sessionId?: string): void {
    this.#fire(method, sessionId, true);
  }

  #fire(method: string, sessionId: string | undefined, after: boolean): void {
    const now = this.#now();
    this.#armed = this.#armed.filter((a) => a.left > 0 && a.until > now);
    const armed = this.#armed.find(
      (a) =>
        (a.fault.kind === "lose-response") === after &&
        (a.fault.methods === undefined || a.fault.methods.includes(method)) &&
        (a.fault.sessions === undefined || (sessionId !== undefined && a.fault.sessions.includes(sessionId))),
    );
    if (armed === undefined) return;
    armed.left -= 1;
    this.injected += 1;
    const f = armed.fault;
    switch (f.kind) {
      case "unavailable":
        throw new ConnectError("injected: service unavailable", Code.Unavailable);
      case "resource-exhausted":
        throw new ConnectError("injected: slow down", Code.ResourceExhausted, {
          "retry-after-ms": String(f.retryAfterMs),
        });
      case "unauthenticated":
        throw new ConnectError("injected: token rejected", Code.Unauthenticated);
      case "lose-response":
        throw new ConnectError("injected: response lost after the work was done", Code.Unavailable);
    }
  }
}

export function parseFault(value: unknown): Fault {
  if (typeof value !== "object" || value === null) throw new Error("fault must be an object");
  const v = value as Record<string, unknown>;
  const methods = Array.isArray(v.methods) ? v.methods.map(String) : undefined;
  const sessions = Array.isArray(v.sessions) ? v.sessions.map(String) : undefined;
  const num = (key: string) => {
    const n = Number(v[key]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`fault.${key} must be a non-negative number`);
    return n;
  };
  switch (v.kind) {
    case "unavailable":
      return { kind: "unavailable", forMs: num("forMs"), methods, sessions };
    case "resource-exhausted":
      return {
        kind: "resource-exhausted",
        calls: num("calls"),
        retryAfterMs: num("retryAfterMs"),
        methods,
        sessions,
      };
    case "unauthenticated":
      return { kind: "unauthenticated", calls: num("calls"), methods, sessions };
    case "lose-response":
      return { kind: "lose-response", calls: num("calls"), methods, sessions };
    default:
      throw new Error("fault.kind must be unavailable, resource-exhausted, unauthenticated or lose-response");
  }
}
