/**
 * A TicketKeyRing.generate() ring attached with a shared store takes its keys from the store
 * (src/server/ticket-key-ring/generated-keys.ts, native/server/shared_ticket_keys.cc): the README's "Use"
 * example in a real cluster, the keys in the store file while processes use them and wiped when
 * the last one detaches, and never in a store file on disk.
 */
import type { Worker } from 'node:cluster';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sharedStorePath } from '../../src/common/shared-store';
import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { SHARED_SYNC_MS } from '../../src/server/ticket-key-ring/generated-keys';
import { type ClusterRun, population, startCluster } from '../support/cluster';
import { storeNames } from '../support/store-names';
import { close, connect, listen, tlsServer } from '../support/tls';

const README_WORKER = path.join(__dirname, '..', 'support', 'readme-worker.ts');
const TAG = `r${process.pid}`;
const stores = storeNames('r');
const storeName = stores.name;

type WorkerStats = Awaited<ReturnType<ClusterRun['stats']>> & {
  rotations: number;
  keys: string[];
  tickets: { unknownKey: number; resumed: number };
  resumption: { failed: Record<string, number> };
};

function rotateIn(worker: Worker): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (m: { type?: string; keyId?: string }) => {
      if (m.type !== 'rotated') return;
      worker.off('message', onMessage);
      resolve(m.keyId!);
    };
    worker.on('message', onMessage);
    worker.send({ cmd: 'rotate' });
  });
}

describe("README's Use example in a cluster of 2: generate() + shared: { name } in each worker", () => {
  // One cluster for both protocol versions (worker start-up is most of the cost).
  let run: ClusterRun;
  beforeAll(async () => {
    run = await startCluster(2, { SHARED_NAME: storeName('use'), ROTATE_SECONDS: '1' }, README_WORKER);
  }, 120_000);
  afterAll(() => run?.stop());

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`${version} tickets, single use: >= 0.99 resumed across workers through timed rotations and a rotate() in one worker; no connection failed, no unknownKey`, async () => {
      const before = (await Promise.all(run.workers.map((w) => run.stats(w)))) as WorkerStats[];
      const started = Date.now();
      let rotatedBy: string | undefined;
      let reachedOther = false;
      const r = await population(
        () => run.port,
        version,
        40,
        8,
        6,
        async (done) => {
          if (done === 160) {
            // Half-way, one worker rotates by hand: the other opens the new key's tickets at once
            // (looked up in the store) and holds the key itself within a sync.
            rotatedBy = await rotateIn(run.workers[0]!);
            for (let i = 0; i < 40 && !reachedOther; i++) {
              reachedOther = ((await run.stats(run.workers[1]!)) as WorkerStats).keys.includes(rotatedBy);
              if (!reachedOther) await new Promise((resolve) => setTimeout(resolve, 100));
            }
          }
          // Keep the run long enough for several timed rotations on any machine.
          // (320 connections over at least 4.8 s: four or more rotations at one a second.)
          const behind = started + done * 15 - Date.now();
          if (done % 40 === 0 && behind > 0) await new Promise((resolve) => setTimeout(resolve, behind));
        },
        true,
      );
      expect(r.failed).toBe(0);
      expect(r.ratio).toBeGreaterThanOrEqual(0.99);
      expect(r.pids.size).toBe(2);
      // Round robin, 6 clients at a time: a good share of returning clients land on the other worker.
      expect(r.crossWorker).toBeGreaterThan(r.reconnects * 0.2);
      expect(rotatedBy).toBeDefined();
      expect(reachedOther).toBe(true);
      const after = (await Promise.all(run.workers.map((w) => run.stats(w)))) as WorkerStats[];
      after.forEach((s, i) => {
        expect(s.rotations - before[i]!.rotations).toBeGreaterThanOrEqual(3);
        expect(s.tickets.unknownKey).toBe(0);
        expect(s.resumption.failed).toEqual(Object.fromEntries(Object.keys(s.resumption.failed).map((k) => [k, 0])));
        expect(s.shared!.ticketKeys).toBeGreaterThanOrEqual(3);
      });
    }, 120_000);
  }
});

describe("README's Use example in a cluster of 2, control", () => {
  // After the cluster above is gone: workers listening on port 0 would share its handle.
  test('control: the same example without `shared` resumes about half (each worker its own keys)', async () => {
    const control = await startCluster(2, {}, README_WORKER);
    try {
      const r = await population(() => control.port, 'TLSv1.3', 20, 6, 6, undefined, true);
      expect(r.failed).toBe(0);
      expect(r.pids.size).toBe(2);
      expect(r.ratio).toBeLessThan(0.8);
      const stats = (await Promise.all(control.workers.map((w) => control.stats(w)))) as WorkerStats[];
      expect(stats[0]!.tickets.unknownKey + stats[1]!.tickets.unknownKey).toBeGreaterThan(0);
    } finally {
      await control.stop();
    }
  }, 120_000);
});

describe('where a shared ring keeps its keys', () => {
  test('in the store file (0600) while a process uses them; wiped when the last process detaches', async () => {
    const name = storeName('wipe');
    const server = tlsServer();
    const ring = TicketKeyRing.generate();
    const cache = attach(server, { tickets: { keyRing: ring }, shared: { name, sizeBytes: 1 << 20 } });
    const port = await listen(server);
    try {
      const file = sharedStorePath(name);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const id = ring.list()[0]!.id;
      expect(cache.stats().shared!.ticketKeys).toBe(1);
      expect(fs.readFileSync(file).includes(Buffer.from(id, 'hex'))).toBe(true);
      // The ring encrypts with the store's key.
      expect((await connect(port, { version: 'TLSv1.3' })).session).toBeDefined();
      expect(ring.stats().keys[id]!.encrypted).toBeGreaterThan(0);
      cache.detach();
      expect(fs.readFileSync(file).includes(Buffer.from(id, 'hex'))).toBe(false);
    } finally {
      cache.detach();
      await close(server);
    }
  });

  test('a second ring joining takes the store keys in place of its own; remove() in one ring revokes the key in the other within a sync', async () => {
    const name = storeName('join');
    const [a, b] = [tlsServer(), tlsServer()];
    const [ringA, ringB] = [TicketKeyRing.generate(), TicketKeyRing.generate()];
    const ownB = ringB.list()[0]!.id;
    const ca = attach(a, { tickets: { keyRing: ringA }, shared: { name, sizeBytes: 1 << 20 } });
    const cb = attach(b, { tickets: { keyRing: ringB }, shared: { name, sizeBytes: 1 << 20 } });
    const [pa, pb] = [await listen(a), await listen(b)];
    try {
      expect(ringB.list().map((k) => k.id)).toEqual(ringA.list().map((k) => k.id));
      expect(ringB.list().map((k) => k.id)).not.toContain(ownB);
      const first = await connect(pa, { version: 'TLSv1.3' });
      expect((await connect(pb, { version: 'TLSv1.3', session: first.session })).reused).toBe(true);
      // Revoking the encrypting key in one ring rotates the store: the other ring no longer opens it.
      const revoked = ringA.list()[0]!.id;
      const old = await connect(pb, { version: 'TLSv1.2' });
      expect(ringA.remove(revoked)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, SHARED_SYNC_MS + 200));
      expect(ringB.list().map((k) => k.id)).not.toContain(revoked);
      expect(ca.stats().shared!.ticketKeys).toBe(1);
      expect((await connect(pb, { version: 'TLSv1.2', session: old.session })).reused).toBe(false);
      expect(cb.stats().tickets!.unknownKey).toBe(1);
    } finally {
      ca.detach();
      cb.detach();
      await Promise.all([close(a), close(b)]);
    }
  });

  test('a store file on disk holds no key: the ring keeps its own', async () => {
    const dir = fs.mkdtempSync(path.join(process.cwd(), '.tmp-store-'));
    const file = path.join(dir, 'store');
    const server = tlsServer();
    const ring = TicketKeyRing.generate();
    const cache = attach(server, { tickets: { keyRing: ring }, shared: { path: file, sizeBytes: 1 << 20 } });
    try {
      const id = ring.list()[0]!.id;
      expect(cache.stats().shared!.ticketKeys).toBe(0);
      expect(fs.readFileSync(file).includes(Buffer.from(id, 'hex'))).toBe(false);
    } finally {
      cache.detach();
      await close(server);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('keepKeys beyond the store key table and a second store are refused before anything is applied', () => {
    const server = tlsServer();
    const big = TicketKeyRing.generate({ keepKeys: 40 });
    expect(() => attach(server, { tickets: { keyRing: big }, shared: { name: storeName('big') } })).toThrow(
      new RangeError(
        '"keepKeys" must be at most 32 keys for a generated ring attached with a shared store (shared.name "' +
          `${TAG}-big"), got 40 keys.`,
      ),
    );
    expect(fs.existsSync(sharedStorePath(`${TAG}-big`))).toBe(false);
    const ring = TicketKeyRing.generate();
    const one = attach(tlsServer(), { tickets: { keyRing: ring }, shared: { name: storeName('one'), sizeBytes: 1 << 20 } });
    try {
      expect(() => attach(server, { tickets: { keyRing: ring }, shared: { name: storeName('two'), sizeBytes: 1 << 20 } })).toThrow(
        /takes its keys from the shared store .*-one; it cannot also take them from .*-two/,
      );
      expect(ring.attachedContexts).toBe(1);
    } finally {
      one.detach();
    }
  });
});
