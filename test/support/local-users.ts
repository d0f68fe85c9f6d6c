/**
 * Other local users for the tests that show what one user can do to another's store files:
 * created once (system users, no home, no shell) and left for the next run. Only root can
 * create them and run commands as them (setpriv): tests that use them go through rootOnly()
 * (root-only.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';

/** scripts/test-lines.sh runs two Node lines at once: each line's users (and so their store directories under /dev/shm) are its own. */
export const LINE = process.env.TLS_RESUMPTION_TEST_LINE ?? '';

export interface LocalUser {
  uid: number;
  gid: number;
}

/** A second local user (created once; left for the next run). */
export function localUser(name: string): LocalUser {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { stdio: 'ignore' });
  }
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
  return { uid, gid };
}

/** Runs `command` as `user` (setpriv, no supplementary groups): its exit status and stderr. */
export function runAs(user: LocalUser, command: string[]): { status: number | null; stderr: string } {
  const r = spawnSync('setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', ...command], {
    encoding: 'utf8',
  });
  return { status: r.status, stderr: r.stderr };
}
