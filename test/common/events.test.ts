import * as dc from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { Channels, type EventMessage, publish } from '../../src/common/events';
import { attach, SessionCache } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { close, listen, resumeChain, tlsServer } from '../support/tls';

describe('events: diagnostics_channel and the handle', () => {
  let server: tls.Server | undefined;
  afterEach(async () => {
    await close(server);
    server = undefined;
  });

  test('channel names are fixed and documented', () => {
    expect(Channels).toEqual({
      attach: 'tls-resumption:attach',
      detach: 'tls-resumption:detach',
      configure: 'tls-resumption:configure',
      flush: 'tls-resumption:flush',
      ticketRotate: 'tls-resumption:ticket-rotate',
      keyRemoved: 'tls-resumption:key-removed',
      fleetError: 'tls-resumption:fleet-error',
      ringDocumentRefused: 'tls-resumption:ring-document-refused',
      resumptionFailed: 'tls-resumption:resumption-failed',
      sharedStoreReopened: 'tls-resumption:shared-store-reopened',
      clientRefused: 'tls-resumption:client-refused',
    });
  });

  test('attach, configure, flush, detach are published on their channels and emitted on the handle', async () => {
    const seen: Array<[string, EventMessage]> = [];
    const subs = (['attach', 'configure', 'flush', 'detach'] as const).map((k) => {
      const fn = (m: unknown) => seen.push([k, m as EventMessage]);
      dc.subscribe(Channels[k], fn);
      return () => dc.unsubscribe(Channels[k], fn);
    });
    try {
      server = tlsServer({ noTickets: true });
      const cache = attach(server, { cache: { size: 50 } });
      expect(seen.map((s) => s[0])).toEqual(['attach']);
      expect(seen[0]![1].cache).toBe(cache);
      expect(seen[0]![1].options).toMatchObject({ cache: { size: 50 } });

      const onHandle: string[] = [];
      for (const name of ['configure', 'flush', 'detach'] as const)
        cache.on(name, (m: EventMessage) => onHandle.push(`${name}:${m.cache === cache}`));

      const port = await listen(server);
      await resumeChain(port, 2, { version: 'TLSv1.2' });
      cache.configure({ cache: { timeoutSeconds: 60 } });
      const removed = cache.flush({ all: true });
      expect(removed).toBe(1);
      cache.detach();
      cache.detach(); // idempotent: no second event

      expect(seen.map((s) => s[0])).toEqual(['attach', 'configure', 'flush', 'detach']);
      expect(seen[1]![1].options).toMatchObject({ cache: { size: 50, timeoutSeconds: 60 } });
      expect(seen[2]![1]).toMatchObject({ all: true, removed: 1 });
      expect(onHandle).toEqual(['configure:true', 'flush:true', 'detach:true']);
      expect(cache).toBeInstanceOf(SessionCache);
    } finally {
      for (const u of subs) u();
    }
  });

  test('publish() on the reserved channels reaches subscribers and handle listeners', () => {
    server = tlsServer();
    const cache = attach(server);
    const got: unknown[] = [];
    const fn = (m: unknown) => got.push(m);
    dc.subscribe(Channels.ticketRotate, fn);
    const onHandle: unknown[] = [];
    cache.on('keyRemoved', (m: unknown) => onHandle.push(m));
    publish(cache, 'ticketRotate', { keys: 2 });
    publish(cache, 'keyRemoved', { reason: 'expired' });
    publish(cache, 'fleetError', { error: new Error('x') }); // nobody listens: nothing happens
    dc.unsubscribe(Channels.ticketRotate, fn);
    expect(got).toEqual([{ keys: 2, cache }]);
    expect(onHandle).toEqual([{ reason: 'expired', cache }]);
    cache.detach();
  });

  test('a real ring tells attached handles about rotation and removal, on events and channels', () => {
    server = tlsServer();
    const ring = TicketKeyRing.generate({ keepKeys: 2 });
    const cache = attach(server, { tickets: { keyRing: ring } });
    const rotated: Array<{ keyId: string }> = [];
    const removed: Array<{ keyId: string; reason: string }> = [];
    const onChannel: unknown[] = [];
    const fn = (m: unknown) => onChannel.push(m);
    dc.subscribe(Channels.keyRemoved, fn);
    cache.on('ticketRotate', (m: { keyId: string }) => rotated.push(m));
    cache.on('keyRemoved', (m: { keyId: string; reason: string }) => removed.push(m));
    const first = ring.list()[0]!.id;
    ring.rotate();
    const second = ring.list()[0]!.id;
    ring.rotate(); // keepKeys 2: the first key ages out
    expect(rotated.map((m) => m.keyId)).toEqual([second, ring.list()[0]!.id]);
    expect(removed).toEqual([expect.objectContaining({ keyId: first, reason: 'aged-out', cache })]);
    ring.remove(second);
    expect(removed[1]).toEqual(expect.objectContaining({ keyId: second, reason: 'removed' }));
    expect(onChannel).toHaveLength(2);
    dc.unsubscribe(Channels.keyRemoved, fn);
    cache.detach();
  });

  test('a secret ring tells attached handles when the epoch moves on: the new key encrypts, the oldest ages out', () => {
    server = tlsServer();
    let now = 1_000_000_000_000;
    const ring = TicketKeyRing.fromSecret(Buffer.alloc(32, 7), { rotateEverySeconds: 60, keepKeys: 2, now: () => now });
    const cache = attach(server, { tickets: { keyRing: ring } });
    const rotated: Array<{ keyId: string; mode: string }> = [];
    const removed: Array<{ keyId: string; reason: string; mode: string }> = [];
    cache.on('ticketRotate', (m: { keyId: string; mode: string }) => rotated.push(m));
    cache.on('keyRemoved', (m: { keyId: string; reason: string; mode: string }) => removed.push(m));
    const epochKey = () => ring.list().find((k) => k.role === 'encrypt')!.id;
    const before = ring.list().map((k) => k.id);
    const first = epochKey();
    now += 60_000;
    ring.rotate();
    // keepKeys 2 plus the next epoch: the epoch before the first one ages out.
    expect(rotated).toEqual([expect.objectContaining({ keyId: epochKey(), mode: 'secret' })]);
    expect(epochKey()).not.toBe(first);
    const gone = before.filter((id) => !ring.list().some((k) => k.id === id));
    expect(removed).toEqual(gone.map((keyId) => expect.objectContaining({ keyId, reason: 'aged-out', mode: 'secret' })));
    expect(gone).toHaveLength(1);

    // A new secret that encrypts at once, then the old one taken out: its keys are 'removed'.
    rotated.length = 0;
    removed.length = 0;
    const oldSecretKeys = ring.list().map((k) => k.id);
    ring.addSecret(Buffer.alloc(32, 9), { encrypt: true });
    expect(rotated).toEqual([expect.objectContaining({ keyId: epochKey(), mode: 'secret' })]);
    expect(oldSecretKeys).not.toContain(epochKey());
    const oldSecret = ring.list().find((k) => k.id === oldSecretKeys[0])!.secretId!;
    expect(ring.removeSecret(oldSecret)).toBe(true);
    expect(removed.map((m) => [m.keyId, m.reason]).sort()).toEqual(oldSecretKeys.map((id) => [id, 'removed']).sort());
    cache.detach();
  });

  test('the library writes nothing to the console (sources outside the CLI)', () => {
    const root = path.join(__dirname, '..', '..', 'src');
    const files = (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.startsWith('cli'));
    expect(files).toContain(path.join('server', 'ticket-key-ring', 'ring.ts'));
    for (const f of files) {
      const text = fs.readFileSync(path.join(root, f), 'utf8');
      expect({ f, console: /\bconsole\.|process\.(stdout|stderr)\.write/.test(text) }).toEqual({ f, console: false });
    }
  });
});
