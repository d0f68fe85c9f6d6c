/**
 * Fleet members as real processes (test/support/fleet-server.js) and a client population that
 * lands on them at random.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';

import { cert, connect, type Version } from './tls';

export interface Member {
  child: ChildProcess;
  port: number;
}

const running = new Set<ChildProcess>();

/** Kills every member still running (afterEach: a failed assertion must not leave processes). */
export function killAllMembers(): void {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  running.clear();
}

/**
 * Forks a member; `args` land in its process.argv (Node derives its default session-ID context from
 * argv). Every member serves the same certificate, as a real fleet does: the derived session-ID
 * context covers it.
 */
export function startMember(env: Record<string, string>, args: string[] = []): Promise<Member> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'fleet-server.js'), args, {
      env: { ...process.env, TLS_KEY: cert.key, TLS_CERT: cert.cert, ...env },
      stdio: 'inherit',
    });
    running.add(child);
    child.once('exit', () => running.delete(child));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`fleet member exited with ${code}`)));
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
  });
}

export function ask<T>(m: Member, message = 'stats'): Promise<T> {
  return new Promise((resolve) => {
    m.child.once('message', (msg) => resolve(msg as T));
    m.child.send(message);
  });
}

export function stopMember(m: Member): Promise<void> {
  return new Promise((resolve) => {
    if (m.child.exitCode !== null) return resolve();
    m.child.removeAllListeners('exit');
    m.child.once('exit', () => resolve());
    m.child.send('exit');
    setTimeout(() => m.child.kill('SIGKILL'), 3000).unref();
  });
}

/**
 * `clients` clients, each keeping its newest session, connect `rounds` times to a random port.
 * Returns the resumed share of every connection after each client's first.
 */
export async function population(
  ports: number[],
  clients: number,
  rounds: number,
  version: Version,
  options: { noTicket?: boolean } = {},
): Promise<number> {
  const sessions: Array<Buffer | undefined> = Array.from({ length: clients }, () => undefined);
  let resumed = 0;
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      sessions.map(async (session, i) => {
        const port = ports[crypto.randomInt(ports.length)]!;
        const res = await connect(port, { version, session, noTicket: options.noTicket });
        if (r > 0 && res.reused) resumed++;
        sessions[i] = res.session ?? session;
      }),
    );
  }
  return resumed / (clients * (rounds - 1));
}
