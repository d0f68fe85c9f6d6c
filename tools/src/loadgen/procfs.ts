/**
 * Server CPU from /proc: utime + stime of a process and all its descendants (cluster workers),
 * so a handshake's cost counts every process that served it. Linux only.
 */
import * as fs from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux ABI Node runs on). */
const USER_HZ = 100;

interface StatLine {
  pid: number;
  ppid: number;
  /** utime + stime, clock ticks. */
  ticks: number;
  /** utime alone, clock ticks. */
  userTicks: number;
}

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
  return { pid, ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]), userTicks: Number(rest[11]) };
}

/** `root` and every live descendant. */
export function processTree(root: number): number[] {
  const all: StatLine[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) all.push(s);
  }
  const tree = new Set<number>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of all) {
      if (!tree.has(s.pid) && tree.has(s.ppid)) {
        tree.add(s.pid);
        grew = true;
      }
    }
  }
  return [...tree].filter((pid) => all.some((s) => s.pid === pid));
}

/**
 * CPU time (user + system) consumed so far by `pids`, microseconds. Resolution: one clock tick
 * (10 ms), so measure phases of a few seconds.
 */
export function processTreeCpuMicros(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return (ticks * 1_000_000) / USER_HZ;
}

/** CPU time of one process so far, microseconds, split into user and system (kernel) time. */
export function processCpuSplitMicros(pid: number): { user: number; system: number } {
  const s = readStat(pid);
  if (!s) return { user: 0, system: 0 };
  return { user: (s.userTicks * 1_000_000) / USER_HZ, system: ((s.ticks - s.userTicks) * 1_000_000) / USER_HZ };
}
