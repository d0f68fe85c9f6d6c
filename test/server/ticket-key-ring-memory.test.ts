/**
 * Issue 22 row 9: ticket keys do not outlive their use in a process's memory, and while in use
 * they are kept out of core dumps. A child runs a `TicketKeyRing.fromRedis` ring on a real
 * redis-server and serves tickets with it; this test wrote the ring document, so it knows every
 * key, and reads the child's memory through /proc/<pid>/mem as a debugger or a core dump would.
 * While attached: each key's HMAC and AES halves are in the child, and the native copy of each
 * lies in a region flagged `dd` (MADV_DONTDUMP) in smaps. After detach(), ring.close() and a
 * collection: neither half of any key is anywhere in the child's memory.
 * Before the key memory of native/common/key_memory.h no region holding a key was flagged `dd`
 * (the first test failed: checked by hand on Node 20).
 */
import { fork } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import Redis from 'ioredis';

import { FLEET_ENTRY_PURPOSES, sealRingDocument } from '../../src/common/fleet-entry';
import { sealedBox } from '../../src/common/sealed-box';
import { findInMemory, regionOf, regions } from '../support/process-memory';
import { type RedisServer, startRedis } from '../support/redis';
import { rootOnly } from '../support/root-only';
import { connect } from '../support/tls';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

/** Name | HMAC key | AES key: the halves worth stealing (the name travels in clear). */
function halves(key: Buffer): Buffer[] {
  return [key.subarray(16, 48), key.subarray(48, 80)];
}

// Reading another process's memory takes root (or ptrace_scope 0 and the same user).
rootOnly(
  'fromRedis ring: keys in dd (MADV_DONTDUMP) pages while attached; gone from the process after detach, close and GC',
  async () => {
    const wrappingSecret = crypto.randomBytes(32);
    const ringKey = `memory-${process.pid}:ring`;
    const now = Date.now();
    const keys = [crypto.randomBytes(80), crypto.randomBytes(80), crypto.randomBytes(80)];
    const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
    const box = sealedBox(wrappingSecret, FLEET_ENTRY_PURPOSES.ringDocument);
    await admin.set(
      ringKey,
      sealRingDocument(box, ringKey, {
        v: 1,
        keys: keys.map((bytes, i) => ({ bytes, createdAt: now - i * 1000, activateAt: now - i * 1000 })),
      }),
    );
    await admin.quit();
    const child = fork(path.join(__dirname, '..', 'support', 'redis-ring-child.ts'), [], {
      execArgv: ['--expose-gc', '-r', path.join(__dirname, '..', 'support', 'ts-register.js')],
      env: { ...process.env, REDIS_PORT: String(redis.port), WRAPPING_SECRET: wrappingSecret.toString('hex'), RING_KEY: ringKey },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const next = (type: string) =>
      new Promise<{ port?: number; keys?: number }>((resolve, reject) => {
        child.on('message', (m: { type?: string; port?: number; keys?: number }) => m.type === type && resolve(m));
        child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before '${type}'`)));
      });
    try {
      const { port, keys: loaded } = await next('listening');
      expect(loaded).toBe(3);
      // The ring works: a ticket under the fleet's key resumes.
      const first = await connect(port!, { version: 'TLSv1.3' });
      expect((await connect(port!, { version: 'TLSv1.3', session: first.session })).reused).toBe(true);

      const needles = keys.flatMap(halves);
      const pid = child.pid!;
      const attached = findInMemory(pid, needles);
      const map = regions(pid);
      needles.forEach((_, i) => {
        const where = attached.get(i)!;
        expect({ half: i, found: where.length > 0 }).toEqual({ half: i, found: true });
        // The native ring's copy: in a page left out of core dumps.
        const dontDump = where.filter((a) => regionOf(map, a)?.flags.includes('dd'));
        expect({ half: i, inDontDumpPages: dontDump.length > 0 }).toEqual({ half: i, inDontDumpPages: true });
      });

      const released = next('released');
      child.send({ cmd: 'release' });
      await released;
      const after = findInMemory(pid, needles);
      const left = needles.flatMap((_, i) => after.get(i)!.map((a) => ({ half: i, region: regionOf(regions(pid), a) })));
      expect(left).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  },
  60_000,
);
