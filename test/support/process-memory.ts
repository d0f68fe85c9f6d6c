/**
 * Reads another process's memory the way a core dump or a debugger would: every readable region
 * of /proc/<pid>/maps through /proc/<pid>/mem (root, or the same user with ptrace allowed), and
 * the VmFlags of each region from /proc/<pid>/smaps (`dd`: left out of core dumps).
 */
import * as fs from 'node:fs';

export interface Region {
  start: number;
  end: number;
  perms: string;
  name: string;
  /** VmFlags from smaps, e.g. ['rd', 'wr', 'mr', 'dd']. */
  flags: string[];
}

export function regions(pid: number): Region[] {
  const out: Region[] = [];
  let current: Region | undefined;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'latin1').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = { start: Number.parseInt(head[1]!, 16), end: Number.parseInt(head[2]!, 16), perms: head[3]!, name: head[4]!, flags: [] };
      out.push(current);
    } else if (line.startsWith('VmFlags:') && current) {
      current.flags = line.slice('VmFlags:'.length).trim().split(/\s+/);
    }
  }
  return out;
}

/** Where each needle occurs in the process's readable memory: needle index -> addresses. */
export function findInMemory(pid: number, needles: Buffer[]): Map<number, number[]> {
  const found = new Map<number, number[]>(needles.map((_, i) => [i, []]));
  const longest = Math.max(...needles.map((n) => n.length));
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  const chunk = Buffer.alloc(8 * 1024 * 1024);
  try {
    for (const r of regions(pid)) {
      if (r.perms[0] !== 'r' || r.name === '[vvar]' || r.name === '[vsyscall]' || r.name === '[vvar_vclock]') continue;
      // Overlapping reads: a needle across a chunk boundary is still seen (and reported once).
      for (let at = r.start; at < r.end; at += chunk.length - longest) {
        const want = Math.min(chunk.length, r.end - at);
        let got: number;
        try {
          got = fs.readSync(fd, chunk, 0, want, at);
        } catch {
          break; // a region the kernel will not read (device memory, guard pages)
        }
        const view = chunk.subarray(0, got);
        needles.forEach((needle, i) => {
          for (let k = view.indexOf(needle); k !== -1; k = view.indexOf(needle, k + 1)) {
            const address = at + k;
            const list = found.get(i)!;
            if (!list.includes(address)) list.push(address);
          }
        });
        if (got < want || at + want >= r.end) break;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return found;
}

/** The region holding `address`. */
export function regionOf(all: Region[], address: number): Region | undefined {
  return all.find((r) => address >= r.start && address < r.end);
}
