// CPU time of a process tree from Linux /proc: how the load bench charges workerd (and only workerd)
// for the work a run caused, without instrumenting the runtime.

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** Clock ticks: user and system time of the process (all its threads), and of its reaped children. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

/** Parses /proc/<pid>/stat. The command name sits in parentheses and may itself hold spaces or ")". */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${text.slice(0, 60)}`);
  // Fields after the name, numbered as in proc(5) from field 3 (state).
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
  };
}

/** The pids in `all` descending from `root` (root included). */
export function descendants(all: readonly ProcStat[], root: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export function readAllProcStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      out.push(parseProcStat(readFileSync(`/proc/${name}/stat`, "utf8")));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}

let ticksPerSecond: number | null = null;
function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // the Linux default (USER_HZ)
    }
  }
  return ticksPerSecond;
}

/** CPU milliseconds (user + system, threads and reaped children) used so far by `root` and its descendants. */
export function treeCpuMs(root: number): number {
  const all = readAllProcStats();
  const tree = new Set(descendants(all, root));
  const ticks = all
    .filter((p) => tree.has(p.pid))
    .reduce((n, p) => n + p.utime + p.stime + p.cutime + p.cstime, 0);
  return (ticks * 1000) / clockTicks();
}

/** The child processes of `parent` whose command name is `comm`. */
export function childrenNamed(parent: number, comm: string): number[] {
  return readAllProcStats()
    .filter((p) => p.ppid === parent && p.comm === comm)
    .map((p) => p.pid);
}

/** Busy and total jiffies of the whole machine (/proc/stat), to report how loaded it was. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}
