// A persistent store file whose lock word names an owner that is not running: what a machine
// crash leaves when a worker held the lock at that moment (the kernel never ran the robust-futex
// cleanup that would have marked the owner dead), or what a corrupt file holds. Found while
// writing the store_header fuzz target (docs/fuzzing.md): before the fix, the first lookup in
// the restarted server waited forever inside the handshake. The first process to open a store
// nobody else uses now re-initialises the lock. The servers are child processes, so a hang
// fails the test by timeout instead of freezing jest.
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { hit } from '../support/cluster';
import { hooks } from '../support/store-hooks';

const MiB = 1024 * 1024;
const at = hooks.layout(MiB, 384);

function startWorker(file: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(path.join(__dirname, '..', 'support', 'shared-worker.ts'), [], {
    execArgv: ['-r', path.join(__dirname, '..', 'support', 'ts-register.js')],
    env: { ...process.env, SHARED_PATH: file, SHARED_SIZE: String(MiB), LISTEN_PORT: '0' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.on('message', (m: { type?: string; port?: number }) => m.type === 'listening' && resolve({ child, port: m.port! }));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before listening`)));
  });
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function stats(child: ChildProcess): Promise<{ shared: { recoveries: number; entries: number } }> {
  return new Promise((resolve) => {
    child.on('message', (m: { type?: string; stats?: { shared: { recoveries: number; entries: number } } }) => {
      if (m.type === 'stats') resolve(m.stats!);
    });
    child.send({ cmd: 'stats' });
  });
}

describe('shared store: a stale lock in the file', () => {
  const file = path.join(os.tmpdir(), `tsc-t${process.pid}-stale-lock.store`);
  let worker: ChildProcess | undefined;
  afterEach(async () => {
    await stop(worker);
    worker = undefined;
  });
  afterAll(() => fs.rmSync(file, { force: true }));

  test('a restarted server opens it, recovers the lock, resumes the old sessions and drops the half-written one', async () => {
    fs.rmSync(file, { force: true });
    let w = await startWorker(file);
    worker = w.child;
    const sessions: Buffer[] = [];
    for (let i = 0; i < 3; i++) sessions.push((await hit(w.port, 'TLSv1.2')).session!);
    await stop(worker);

    // The crash: the lock held by a thread id that no longer runs, and slot `victim` being written.
    const buf = fs.readFileSync(file);
    expect(buf.length).toBe(MiB);
    let victim = -1;
    for (let i = 0; i < at.slotCount && victim < 0; i++) if (buf.readBigUInt64LE(at.indexAt + at.indexEntryBytes * i) !== 0n) victim = i;
    expect(victim).toBeGreaterThanOrEqual(0);
    // The stripe that guards the victim's set holds the lock word and the slot being written.
    const stripeAt = at.stripesAt + at.stripeBytes * (Math.floor(victim / at.ways) % at.stripeCount);
    const fd = fs.openSync(file, 'r+');
    const word = Buffer.alloc(4);
    word.writeUInt32LE(4_000_000); // above pid_max's default: no such thread
    fs.writeSync(fd, word, 0, 4, stripeAt + at.lockOffset);
    const touching = Buffer.alloc(4);
    touching.writeUInt32LE(victim);
    fs.writeSync(fd, touching, 0, 4, stripeAt + at.touchingOffset);
    fs.closeSync(fd);

    w = await startWorker(file);
    worker = w.child;
    let resumed = 0;
    for (const s of sessions) if ((await hit(w.port, 'TLSv1.2', s)).reused) resumed++;
    // Every lookup answered (none waited on the stale lock); the slot named as half-written is
    // gone, the other two sessions resume.
    expect(resumed).toBe(sessions.length - 1);
    const st = await stats(worker);
    expect(st.shared.recoveries).toBe(1);
  }, 60_000);
});
