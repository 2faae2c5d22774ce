// A call's timers as plain data: what is due when. One Durable Object alarm stands for the earliest;
// the shell re-arms it whenever this changes. Plain JSON, kept in the call record.

export interface Timers {
  /** Close the socket (after our disconnect or closed, unless the client closes first). */
  closeAt: number | null;
  closeCode: number;
  closeReason: string;
  /** Erase the call's storage (retention after the call ended). */
  purgeAt: number | null;
  /** Retry delivery to the transcription service. */
  retryAt: number | null;
  /** The upgrade was accepted but `open` has not come: end the connection then. */
  openBy: number | null;
  /** While a call is live: check that its socket still exists (a restart closes sockets without an event). */
  livenessAt: number | null;
}

export const NO_TIMERS: Timers = {
  closeAt: null,
  closeCode: 1000,
  closeReason: "",
  purgeAt: null,
  retryAt: null,
  openBy: null,
  livenessAt: null,
};

const KEYS = ["closeAt", "purgeAt", "retryAt", "openBy", "livenessAt"] as const;
export type TimerName = (typeof KEYS)[number];

/** The earliest time anything is due, or null. */
export function nextDue(timers: Timers): number | null {
  let next: number | null = null;
  for (const key of KEYS) {
    const at = timers[key];
    if (at !== null && (next === null || at < next)) next = at;
  }
  return next;
}

/** The timers due at `now`, cleared in the returned copy. */
export function takeDue(timers: Timers, now: number): { timers: Timers; due: Set<TimerName> } {
  const next = { ...timers };
  const due = new Set<TimerName>();
  for (const key of KEYS) {
    const at = next[key];
    if (at !== null && at <= now) {
      due.add(key);
      next[key] = null;
    }
  }
  return { timers: next, due };
}
