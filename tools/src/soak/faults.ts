/**
 * `--faults` (issue 17): instead of the SIGKILL schedule, the faults production brings to a
 * cluster sharing one session store.
 * - A full tmpfs at start: a probe worker whose store is on a 256 KiB tmpfs must come up serving,
 *   report attach()'s clear error ("cannot reserve ... bytes free") and exit 0 when drained. Root
 *   only (it mounts the tmpfs).
 * - One churned worker SIGSTOPped for 10 s (a fifth of the judged run at most) at a quarter of it:
 *   connections it held fail and are the fault's; nobody else may stall.
 * - At half of the run, a graceful restart of each churned worker in turn: its replacement is
 *   serving first, then worker.disconnect() (cluster closes its server; it ends when drained, the
 *   store still attached). Every drained worker exits 0, and from one second after the last
 *   restart returning clients resume >= 0.97 of the sessions they offer. Connections that fail
 *   while a worker drains are the restart's own (counted apart, `failuresAroundRestarts`): since
 *   Node 19 an http(s) server's close() destroys its idle connections, and a TLS connection that
 *   finished its handshake but has not sent its request yet is idle (seen on Node 24: 4 of about
 *   3,000 connections in a 36 s run).
 */
import type { Worker } from 'node:cluster';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { LoadReport } from '../loadgen/population';

/** What `--faults` did and saw. */
export interface FaultReport {
  /** The probe worker whose store did not fit a 256 KiB tmpfs: attach's message and its exit. */
  fullTmpfs: { attachError: string | null; exitCode: number | null } | { skipped: string };
  /** The worker stopped, from when (seconds since the start of the load) and for how long. */
  stopped: { pid: number; fromSeconds: number; seconds: number } | null;
  /** Workers restarted gracefully, and when the last replacement was serving. */
  restarts: number;
  restartsDoneSeconds: number | null;
  /** Drained workers' exit codes (0 each). */
  drainedExitCodes: Array<number | null>;
  /** Failures in the seconds around a drain (Node's close() of idle connections); part of failuresNearKills too. */
  failuresAroundRestarts: number;
  /** Offers and resumptions from one second after the restarts to the end, also by client kind. */
  afterRestarts: { offered: number; resumed: number; ratio: number; kinds: Record<string, { offered: number; resumed: number }> };
}

export function newFaultReport(): FaultReport {
  return {
    fullTmpfs: { skipped: 'not run' },
    stopped: null,
    restarts: 0,
    restartsDoneSeconds: null,
    drainedExitCodes: [],
    failuresAroundRestarts: 0,
    afterRestarts: { offered: 0, resumed: 0, ratio: 0, kinds: {} },
  };
}

/** Starts a probe worker with its store on a full tmpfs, drains it, and records what it said. */
export async function probeFullTmpfs(
  report: FaultReport,
  fork: (storePath: string) => Promise<{ worker: Worker; attachError: string | undefined }>,
  drain: (w: Worker) => Promise<number | null>,
): Promise<void> {
  if (process.getuid?.() !== 0) {
    report.fullTmpfs = { skipped: 'mounting a tmpfs needs root' };
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir]);
  try {
    const probe = await fork(path.join(dir, 'store'));
    const exitCode = await drain(probe.worker);
    report.fullTmpfs = { attachError: probe.attachError ?? null, exitCode };
  } finally {
    execFileSync('umount', [dir]);
    fs.rmdirSync(dir);
  }
}

/** Adds the per-second reports after the restarts to `report.afterRestarts`. */
export function countAfterRestarts(report: FaultReport, seconds: LoadReport[]): void {
  if (report.restartsDoneSeconds === null) return;
  const a = report.afterRestarts;
  for (const s of seconds) {
    if (s.elapsedMs / 1000 - s.intervalMs / 1000 < report.restartsDoneSeconds + 1) continue;
    a.offered += s.offered;
    a.resumed += s.resumed;
    for (const [kind, c] of Object.entries(s.kinds)) {
      const k = (a.kinds[kind] ??= { offered: 0, resumed: 0 });
      k.offered += c.offered;
      k.resumed += c.resumed;
    }
  }
  a.ratio = a.offered ? Math.round((a.resumed / a.offered) * 1000) / 1000 : 0;
}

/** The faults' share of the verdict. */
export function faultProblems(report: FaultReport): string[] {
  const problems: string[] = [];
  const t = report.fullTmpfs;
  if ('attachError' in t && (!/cannot reserve \d+ bytes for .*\(the filesystem has \d+ bytes free\)/.test(t.attachError ?? '') || t.exitCode !== 0)) {
    problems.push(`full tmpfs: the probe worker should report "cannot reserve ..." and exit 0, got ${JSON.stringify(t)}`);
  }
  if (!report.stopped) problems.push('the SIGSTOP fault did not run');
  if (report.restartsDoneSeconds === null || report.restarts === 0) problems.push('the graceful restarts did not finish');
  if (report.drainedExitCodes.some((c) => c !== 0)) problems.push(`drained workers exited with ${JSON.stringify(report.drainedExitCodes)}`);
  const a = report.afterRestarts;
  if (a.offered === 0 || a.ratio < 0.97) {
    problems.push(`after the graceful restarts returning clients resumed ${a.resumed} of ${a.offered} (${a.ratio}), below 0.97`);
  }
  return problems;
}
