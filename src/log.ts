// Structured logs: one JSON line per event, the session id on each. Never pass audio or secrets here.

export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  with(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  base: Record<string, unknown> = {},
  minLevel: LogLevel = "info",
  write: (line: string) => void = (line) => console.log(line),
): Logger {
  return {
    log(level, event, fields) {
      if (RANK[level] < RANK[minLevel]) return;
      write(JSON.stringify({ ts: new Date().toISOString(), level, event, ...base, ...fields }));
    },
    with(fields) {
      return createLogger({ ...base, ...fields }, minLevel, write);
    },
  };
}
