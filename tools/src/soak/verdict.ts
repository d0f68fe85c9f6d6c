/**
 * The soak's verdict: per process, the RSS and fd trend of the samples after warm-up (first third
 * against last third), and the problems that fail the run. Pure: samples in, figures out.
 */
import type { LoadReport } from '../loadgen/population';
import type { FaultReport } from './faults';
import type { SoakOptions } from './options';
import { fdKinds, Sample } from './samples';

/** One process's samples and trend. */
export interface ProcessTrend {
  role: 'primary' | 'long-lived worker' | 'worker';
  pid: number;
  samples: number;
  /** Seconds since the start of the load when the process was first and last sampled. */
  firstSeenSeconds: number;
  lastSeenSeconds: number;
  rssMiB: { min: number; max: number; firstThirdMean: number; lastThirdMean: number; growth: number };
  fds: { min: number; max: number; firstThirdMax: number; lastThirdMin: number };
  /** Killed by the run (SIGKILL), else alive at the end or died unexpectedly. */
  killed: boolean;
  /** Every sample of a long-lived process: [seconds, RSS MiB, open fds]. Churned workers: omitted. */
  series?: [number, number, number][];
  /** Long-lived processes: their open fds at the end by kind (socket, pipe, anon_inode:[eventfd], /dev/shm/..., ...). */
  fdKinds?: Record<string, number>;
}

/** What `--json` prints. */
export interface SoakResult {
  options: SoakOptions;
  durationSeconds: number;
  handshakes: number;
  resumed: number;
  resumedRatio: number;
  failures: number;
  /** Failures in the seconds around a kill or the SIGSTOP (connections that worker held or was handed). */
  failuresNearKills: number;
  failuresElsewhere: number;
  failureReasons: Record<string, number>;
  kinds: LoadReport['kinds'];
  versions: LoadReport['versions'];
  kills: number;
  replacements: number;
  /** Workers that exited without being killed by the run. */
  unexpectedExits: number;
  flushes: number;
  processes: ProcessTrend[];
  /** Worker 1's stats() at the end (counters, ring and shared store). */
  longLivedStats: unknown;
  /** With `--faults`. */
  faults?: FaultReport;
  ok: boolean;
  problems: string[];
}

/** One sampled process as the run saw it. */
export interface ProcessSeries {
  role: ProcessTrend['role'];
  samples: Sample[];
  killed: boolean;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
export const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * Failures whose second overlaps [kill - 1 s, kill + timeout + 1 s] (a stop: [stop - 1 s, resume
 * + timeout + 1 s]): the connections a killed or stopped worker held or was handed.
 */
export function failuresNearKills(seconds: LoadReport[], killTimes: number[], timeoutMs: number, stops: Array<[number, number]> = []): number {
  const windows = [...killTimes.map((k): [number, number] => [k, k]), ...stops];
  let nearKills = 0;
  for (const s of seconds) {
    const end = s.elapsedMs / 1000;
    const start = end - s.intervalMs / 1000;
    if (windows.some(([a, b]) => end >= a - 1 && start <= b + timeoutMs / 1000 + 1)) nearKills += s.failures;
  }
  return nearKills;
}

/** Trends of every sampled process and what in them fails the run (long-lived processes only). */
export function judgeProcesses(series: Map<number, ProcessSeries>, o: SoakOptions): { processes: ProcessTrend[]; problems: string[] } {
  const judgedFrom = o.warmupSeconds;
  const processes: ProcessTrend[] = [];
  const problems: string[] = [];
  for (const [pid, s] of series) {
    if (s.samples.length === 0) continue;
    const rss = s.samples.map((x) => x.rssKiB / 1024);
    const fds = s.samples.map((x) => x.fds);
    const judged = s.samples.filter((x) => x.t >= judgedFrom);
    const third = Math.floor(judged.length / 3);
    const first = judged.slice(0, third);
    const last = judged.slice(judged.length - third);
    const trend: ProcessTrend = {
      role: s.role,
      pid,
      samples: s.samples.length,
      firstSeenSeconds: round1(s.samples[0]!.t),
      lastSeenSeconds: round1(s.samples[s.samples.length - 1]!.t),
      rssMiB: {
        min: round1(Math.min(...rss)),
        max: round1(Math.max(...rss)),
        firstThirdMean: round1(mean(first.map((x) => x.rssKiB / 1024))),
        lastThirdMean: round1(mean(last.map((x) => x.rssKiB / 1024))),
        growth: round1(mean(last.map((x) => x.rssKiB / 1024)) - mean(first.map((x) => x.rssKiB / 1024))),
      },
      fds: {
        min: Math.min(...fds),
        max: Math.max(...fds),
        firstThirdMax: first.length ? Math.max(...first.map((x) => x.fds)) : 0,
        lastThirdMin: last.length ? Math.min(...last.map((x) => x.fds)) : 0,
      },
      killed: s.killed,
    };
    if (s.role !== 'worker') {
      trend.series = s.samples.map((x) => [round1(x.t), round1(x.rssKiB / 1024), x.fds]);
      trend.fdKinds = fdKinds(pid);
    }
    processes.push(trend);
    if (s.role === 'worker') continue;
    if (third < 2) {
      problems.push(`${s.role} ${pid}: too few samples after warm-up (${judged.length}) to judge a trend`);
      continue;
    }
    if (trend.rssMiB.growth > o.maxRssGrowthMiB) {
      problems.push(`${s.role} ${pid}: RSS grew ${trend.rssMiB.growth} MiB (first third ${trend.rssMiB.firstThirdMean}, last third ${trend.rssMiB.lastThirdMean}; bound ${o.maxRssGrowthMiB})`);
    }
    if (trend.fds.lastThirdMin > trend.fds.firstThirdMax) {
      problems.push(`${s.role} ${pid}: open fds grew (at least ${trend.fds.lastThirdMin} in the last third, at most ${trend.fds.firstThirdMax} in the first)`);
    }
  }
  return { processes, problems };
}

/** The human summary of a result (without `--json`). */
export function printHuman(r: SoakResult): void {
  const lines = [
    `soak: ${r.durationSeconds} s, ${r.handshakes} handshakes (${(r.resumedRatio * 100).toFixed(1)}% resumed), ` +
      `${r.failures} failed (${r.failuresNearKills} around ${r.kills} kills), ${r.replacements} workers replaced, ${r.flushes} flush rounds`,
  ];
  for (const p of r.processes.filter((x) => x.role !== 'worker')) {
    lines.push(
      `  ${p.role} ${p.pid}: RSS ${p.rssMiB.firstThirdMean} -> ${p.rssMiB.lastThirdMean} MiB (growth ${p.rssMiB.growth}, range ${p.rssMiB.min}-${p.rssMiB.max}); ` +
        `fds ${p.fds.min}-${p.fds.max} (first third max ${p.fds.firstThirdMax}, last third min ${p.fds.lastThirdMin})`,
    );
  }
  const churned = r.processes.filter((x) => x.role === 'worker');
  if (churned.length) {
    lines.push(`  ${churned.length} churned workers: RSS max ${Math.max(...churned.map((p) => p.rssMiB.max))} MiB, fds max ${Math.max(...churned.map((p) => p.fds.max))}`);
  }
  lines.push(r.ok ? 'soak: OK' : `soak: FAILED\n  ${r.problems.join('\n  ')}`);
  process.stdout.write(lines.join('\n') + '\n');
}
