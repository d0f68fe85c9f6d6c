/**
 * The native load generator against real Node servers in this (test) process; the generator
 * itself always runs in its own forked process.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';

import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { ensureDist, repoRoot } from '../../test/support/build';
import { EXT_SESSION_TICKET, helloRelay } from '../../test/support/clienthello';
import { cert, close, listen } from '../../test/support/tls';
import { LoadgenProcess, Population, resolvePhaseOptions, resolvePopulationOptions } from '../src/loadgen';

jest.setTimeout(120_000);

interface Counted {
  server: https.Server;
  handshakes: number;
  resumed: number;
  names: string[];
}

function countedServer(options: https.ServerOptions = {}): Counted {
  const c: Counted = {
    server: https.createServer({ key: cert.key, cert: cert.cert, ...options }, (_req, res) => res.end('ok\n')),
    handshakes: 0,
    resumed: 0,
    names: [],
  };
  c.server.on('secureConnection', (s: tls.TLSSocket) => {
    c.handshakes++;
    if (s.isSessionReused()) c.resumed++;
    const name = (s as tls.TLSSocket & { servername?: string | false }).servername;
    if (name) c.names.push(name);
  });
  return c;
}

describe('loadgen', () => {
  let lg: LoadgenProcess;
  let counted: Counted | undefined;
  beforeAll(() => {
    ensureDist();
    lg = new LoadgenProcess();
  });
  afterAll(async () => {
    await lg.close();
  });
  afterEach(async () => {
    await close(counted?.server);
    counted = undefined;
  });

  test('runs in its own process', () => {
    expect(lg.pid).toBeGreaterThan(0);
    expect(lg.pid).not.toBe(process.pid);
  });

  test("the clients' counts match the server's own (handshakes, resumptions), mixed kinds and versions", async () => {
    counted = countedServer();
    const port = await listen(counted.server);
    const seconds: number[] = [];
    await lg.populate('mixed', { targets: [{ port }], clients: 40, kinds: { reuse: 1, once: 1, sessionId: 1, fresh: 1 }, tls13: 0.5 });
    const warm = await lg.run('mixed', { sweep: true, durationMs: 0, concurrency: 4 });
    const load = await lg.run('mixed', { connections: 400, durationMs: 0, concurrency: 4 }, (s) => seconds.push(s.handshakes));
    expect(warm.handshakes).toBe(40);
    expect(warm.resumed).toBe(0);
    expect(load.failures).toBe(0);
    expect(load.failureReasons).toEqual({});
    expect(load.handshakes).toBe(400);
    expect(load.completed).toBe(400);
    expect(load.full + load.resumed).toBe(400);
    expect(counted.handshakes).toBe(440);
    expect(counted.resumed).toBe(load.resumed);
    expect(load.resumed).toBeGreaterThan(0);
    expect(load.kinds.fresh.resumed).toBe(0);
    expect(load.kinds.fresh.offered).toBe(0);
    expect(load.kinds.reuse.resumed).toBe(load.kinds.reuse.handshakes); // stock tickets, kept and re-offered
    expect(load.kinds.sessionId.resumed).toBe(0); // stock Node has no session-ID cache
    expect(load.versions['TLSv1.2'].handshakes + load.versions['TLSv1.3'].handshakes).toBe(400);
    expect(load.latencyMicros.p50).toBeGreaterThan(0);
    expect(load.latencyMicros.p99).toBeGreaterThanOrEqual(load.latencyMicros.p50);
    expect(seconds.reduce((a, b) => a + b, 0)).toBe(400); // per-second snapshots add up to the totals
  });

  test('`once` clients against stock Node on TLS 1.3 resume about every other connection', async () => {
    counted = countedServer();
    const port = await listen(counted.server);
    await lg.populate('once', { targets: [{ port }], clients: 20, kinds: { once: 1 }, tls13: 1 });
    await lg.run('once', { sweep: true, durationMs: 0, concurrency: 4 });
    const load = await lg.run('once', { connections: 200, durationMs: 0, concurrency: 4 });
    const ratio = load.resumed / load.handshakes;
    expect(ratio).toBeGreaterThanOrEqual(0.35);
    expect(ratio).toBeLessThanOrEqual(0.65);
    expect(load.versions['TLSv1.3'].handshakes).toBe(200);
    expect(load.resumed).toBe(load.offered); // every offered ticket is accepted once
  });

  test('`once` clients on TLS 1.3 resume every connection with the ticket ring (a fresh ticket on each resumption)', async () => {
    counted = countedServer();
    const ring = TicketKeyRing.generate();
    const cache = attach(counted.server, { tickets: { enabled: true, keyRing: ring } });
    const port = await listen(counted.server);
    await lg.populate('onceRing', { targets: [{ port }], clients: 20, kinds: { once: 1 }, tls13: 1 });
    await lg.run('onceRing', { sweep: true, durationMs: 0, concurrency: 4 });
    const load = await lg.run('onceRing', { connections: 200, durationMs: 0, concurrency: 4 });
    expect(load.failures).toBe(0);
    expect(load.versions['TLSv1.3'].handshakes).toBe(200);
    expect(load.offered).toBe(200); // each connection got a ticket to offer next time
    expect(load.resumed).toBe(200);
    expect(counted.resumed).toBe(200);
    // Resumed through the ring, not the session cache: every resumption decrypted a ring ticket.
    expect(cache.stats().tickets!.resumed).toBeGreaterThanOrEqual(200);
    cache.detach();
  });

  test('placement "connection": each connection of a client lands on a random target (a fleet behind a load balancer)', async () => {
    counted = countedServer();
    const other = countedServer();
    const p1 = await listen(counted.server);
    const p2 = await listen(other.server);
    try {
      // Stock Node: each server has its own ticket key, so a client resumes only when it lands
      // where its ticket came from: about half, never all (with 'client' placement: all).
      await lg.populate('lb', {
        targets: [{ port: p1 }, { port: p2 }],
        clients: 20,
        kinds: { reuse: 1 },
        tls13: 0,
        placement: 'connection',
      });
      await lg.run('lb', { sweep: true, durationMs: 0, concurrency: 4 });
      const load = await lg.run('lb', { connections: 200, durationMs: 0, concurrency: 4 });
      expect(load.failures).toBe(0);
      expect(counted.handshakes).toBeGreaterThan(50);
      expect(other.handshakes).toBeGreaterThan(50);
      expect(load.resumed / load.handshakes).toBeGreaterThan(0.3);
      expect(load.resumed / load.handshakes).toBeLessThan(0.7);

      await lg.populate('pinned', { targets: [{ port: p1 }, { port: p2 }], clients: 20, kinds: { reuse: 1 }, tls13: 0 });
      await lg.run('pinned', { sweep: true, durationMs: 0, concurrency: 4 });
      const pinned = await lg.run('pinned', { connections: 100, durationMs: 0, concurrency: 4 });
      expect(pinned.resumed).toBe(100);
    } finally {
      await close(other.server);
    }
  });

  // What is on the wire, read by a relay in front of the server: `sessionId` ClientHellos carry
  // no session_ticket extension (0x0023), while `reuse` TLS 1.2 clients do (the control).
  test('`sessionId` clients never send the ticket extension; a stock server cannot resume them', async () => {
    counted = countedServer();
    const port = await listen(counted.server);
    const relay = await helloRelay(port);
    try {
      await lg.populate('sid', { targets: [{ port: relay.port }], clients: 10, kinds: { sessionId: 1 }, tls13: 1 });
      await lg.run('sid', { sweep: true, durationMs: 0, concurrency: 2 });
      const sid = await lg.run('sid', { connections: 30, durationMs: 0, concurrency: 2 });
      expect(relay.hellos).toHaveLength(40);
      expect(relay.hellos.every((h) => !h.extensions.includes(EXT_SESSION_TICKET))).toBe(true);
      expect(relay.hellos.slice(10).every((h) => h.sessionIdLength === 32)).toBe(true); // offering the session ID
      expect(sid.offered).toBe(30);
      expect(sid.versions['TLSv1.2'].handshakes).toBe(30); // always TLS 1.2, whatever the tls13 share
      expect(sid.resumed).toBe(0); // stock Node: tickets only, and none was asked for

      relay.hellos.length = 0;
      await lg.populate('ctl', { targets: [{ port: relay.port }], clients: 10, kinds: { reuse: 1 }, tls13: 0 });
      await lg.run('ctl', { sweep: true, durationMs: 0, concurrency: 2 });
      const ctl = await lg.run('ctl', { connections: 30, durationMs: 0, concurrency: 2 });
      expect(relay.hellos.every((h) => h.extensions.includes(EXT_SESSION_TICKET))).toBe(true);
      expect(ctl.resumed).toBe(30);
    } finally {
      await relay.close();
    }
  });

  test('`sessionId` clients resume from the internal cache: every resumption is a cache hit', async () => {
    counted = countedServer();
    const cache = attach(counted.server, { cache: { enabled: true }, tickets: { enabled: true } }); // tickets stay on
    const port = await listen(counted.server);
    await lg.populate('sid2', { targets: [{ port }], clients: 10, kinds: { sessionId: 1 } });
    await lg.run('sid2', { sweep: true, durationMs: 0, concurrency: 2 });
    const load = await lg.run('sid2', { connections: 50, durationMs: 0, concurrency: 2 });
    expect(load.resumed).toBe(50);
    expect(cache.stats().hits).toBe(50);
    expect(counted.resumed).toBe(50);
  });

  test('SNI is sent when configured', async () => {
    counted = countedServer({ SNICallback: (_name, cb) => cb(null, tls.createSecureContext({ key: cert.key, cert: cert.cert })) });
    const port = await listen(counted.server);
    await lg.populate('sni', { targets: [{ port }], clients: 3, kinds: { fresh: 1 }, servername: 'bench.example' });
    const load = await lg.run('sni', { connections: 6, durationMs: 0, concurrency: 2 });
    expect(load.handshakes).toBe(6);
    expect(counted.names).toEqual(Array(6).fill('bench.example'));
  });

  test('clients are placed on several targets', async () => {
    counted = countedServer();
    const other = countedServer();
    const p1 = await listen(counted.server);
    const p2 = await listen(other.server);
    try {
      await lg.populate('two', { targets: [{ port: p1 }, { port: p2 }], clients: 50, kinds: { fresh: 1 } });
      const load = await lg.run('two', { connections: 100, durationMs: 0, concurrency: 4 });
      expect(counted.handshakes + other.handshakes).toBe(100);
      expect(load.handshakes).toBe(100);
      expect(counted.handshakes).toBeGreaterThan(10);
      expect(other.handshakes).toBeGreaterThan(10);
    } finally {
      await close(other.server);
    }
  });

  test('failures are counted by reason', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r())); // nothing listens there now
    await lg.populate('refused', { targets: [{ port }], clients: 2, kinds: { fresh: 1 } });
    const load = await lg.run('refused', { connections: 5, durationMs: 0, concurrency: 1 });
    expect(load.failures).toBe(5);
    expect(load.handshakes).toBe(0);
    expect(load.failureReasons).toEqual({ 'connect: Connection refused': 5 });

    // A plain TCP server that closes at once: the handshake fails with an unexpected EOF.
    const rude = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
    try {
      await lg.populate('rude', { targets: [{ port: (rude.address() as net.AddressInfo).port }], clients: 2, kinds: { fresh: 1 } });
      const r = await lg.run('rude', { connections: 3, durationMs: 0, concurrency: 1 });
      expect(r.failures).toBe(3);
      expect(Object.keys(r.failureReasons).every((k) => k.startsWith('handshake: '))).toBe(true);
    } finally {
      await new Promise<void>((r) => rude.close(() => r()));
    }
  });

  test('open loop: connections start at the given rate', async () => {
    counted = countedServer();
    const port = await listen(counted.server);
    await lg.populate('open', { targets: [{ port }], clients: 10, kinds: { fresh: 1 } });
    const load = await lg.run('open', { rate: 100, connections: 50, durationMs: 0, concurrency: 4 });
    expect(load.handshakes).toBe(50);
    expect(load.elapsedMs).toBeGreaterThanOrEqual(480); // the 50th starts at 490 ms
  });

  test('the loadgen command: per-second lines, totals, JSON, and the server CPU of --pid', async () => {
    counted = countedServer();
    const port = await listen(counted.server);
    const json = path.join(os.tmpdir(), `tsc-loadgen-${process.pid}.json`);
    const args = [
      path.join(repoRoot, 'tools', 'dist', 'cli', 'main.js'),
      'loadgen',
      '--target',
      `127.0.0.1:${port}`,
      '--clients',
      '10',
      '--kinds',
      'reuse=1',
      '--connections',
      '60',
      '--concurrency',
      '2',
      '--warmup',
      '--pid',
      String(process.pid),
      '--json',
      json,
    ];
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('close', (code) => resolve({ code, stdout }));
    });
    try {
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/^warm-up: 10 handshakes, 0 failures$/m);
      expect(out.stdout).toMatch(/^total .* 60 hs .* resumed 60 \(100\.0%\)/m);
      const r = JSON.parse(fs.readFileSync(json, 'utf8'));
      expect(r.total.handshakes).toBe(60);
      // 70 handshakes cost the server CPU time: read from /proc/<pid>/stat (10 ms ticks), never 0.
      expect(r.serverCpuMicros).toBeGreaterThan(0);
      expect(counted.handshakes).toBe(70);
      expect(counted.resumed).toBe(60);
    } finally {
      fs.rmSync(json, { force: true });
    }
  });

  test('the loadgen command with --per-connection spreads one client over every target', async () => {
    counted = countedServer();
    const other = countedServer();
    const p1 = await listen(counted.server);
    const p2 = await listen(other.server);
    try {
      const args = [
        path.join(repoRoot, 'tools', 'dist', 'cli', 'main.js'),
        'loadgen',
        '--target',
        `127.0.0.1:${p1},${p2}`,
        '--per-connection',
        '--clients',
        '1',
        '--kinds',
        'fresh=1',
        '--connections',
        '40',
        '--concurrency',
        '1',
      ];
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
        child.on('close', resolve);
      });
      expect(code).toBe(0);
      // One client pinned to one target would put all 40 on one server.
      expect(counted.handshakes + other.handshakes).toBe(40);
      expect(counted.handshakes).toBeGreaterThan(5);
      expect(other.handshakes).toBeGreaterThan(5);
    } finally {
      await close(other.server);
    }
  });

  test('bad options: TypeError / RangeError naming the field, before anything runs', async () => {
    expect(() => resolvePopulationOptions({ targets: [] })).toThrow(/population\.targets/);
    expect(() => resolvePopulationOptions({ targets: [{ port: 0 }] })).toThrow(RangeError);
    expect(() => resolvePopulationOptions({ targets: [{ port: 1 }], clients: 1.5 })).toThrow(TypeError);
    expect(() => resolvePopulationOptions({ targets: [{ port: 1 }], kinds: { resue: 1 } })).toThrow(
      /Did you mean "population.kinds.reuse"/,
    );
    expect(() => resolvePopulationOptions({ targets: [{ port: 1 }], kinds: { reuse: 0 } })).toThrow(RangeError);
    expect(() => resolvePopulationOptions({ targets: [{ port: 1 }], tls13: 2 })).toThrow(/population\.tls13.*between 0 and 1/);
    expect(() => resolvePopulationOptions({ targets: [{ port: 1, host: 'localhost' }] })).toThrow(/IPv4/);
    expect(() => resolvePopulationOptions({ targets: [{ port: 1 }], placement: 'random' })).toThrow(
      /population\.placement" must be one of "client", "connection"/,
    );
    expect(() => resolvePhaseOptions({ concurrency: 0 })).toThrow(/phase\.concurrency.*between 1 and 512/);
    expect(() => resolvePhaseOptions({ durationMs: 0 })).toThrow(RangeError);
    expect(() => resolvePhaseOptions({ rate: 'fast' })).toThrow(TypeError);
    await expect(lg.populate('bad', { targets: [{ port: 1 }], clients: -1 })).rejects.toThrow(/RangeError: "population.clients"/);
    expect(() => new Population({ targets: [{ port: 1 }], seed: -1 })).toThrow(RangeError);
  });
});
