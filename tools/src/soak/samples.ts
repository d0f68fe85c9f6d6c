/** What the soak reads of each process from /proc: resident memory and open file descriptors. */
import * as fs from 'node:fs';

export interface Sample {
  t: number;
  rssKiB: number;
  fds: number;
}

/** VmRSS in KiB and the open fd count, or undefined when the process is gone. */
export function sampleProcess(pid: number): { rssKiB: number; fds: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (!m) return undefined;
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    return { rssKiB: Number(m[1]), fds };
  } catch {
    return undefined;
  }
}

/** Open fds of a process by kind: what a growing count is made of. */
export function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const kind = /^(socket|pipe):/.exec(target)?.[1] ?? target.replace(/\d+/g, 'N');
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
  } catch {
    // gone
  }
  return kinds;
}
