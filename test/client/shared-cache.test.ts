/**
 * The outbound cache in shared memory: real cluster workers drawing from one cache against a
 * server whose TLS 1.3 tickets are single-use (openssl s_server, stateful tickets), a real restart
 * (two processes in a row over a store at a path), entries that are corrupt or foreign, the file's
 * mode, and session bytes wiped from the file once they leave the cache.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';

import { type ClientSessionCache, type ClientSessionStats, clientSessions } from '../../src/client';
import { withoutPeerCertificate } from '../../src/client/session-facts';
import { placeKey, TLS12 } from '../../src/client/shared-store';
import { upstreamKey } from '../../src/client/upstream-key';
import { native } from '../../src/common/native';
import { sharedStorePath } from '../../src/common/shared-store';
import { expectBadInput } from '../support/bad-inputs';
import { LINE, localUser, runAs } from '../support/local-users';
import { rootOnly } from '../support/root-only';
import { startSServer } from '../support/s_server';
import { cert, close, listen, tlsServer } from '../support/tls';
import { runSupportChild } from '../support/ts-child';

const TAG = `c${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsc-client-store-'));
const files: string[] = [];
afterAll(() => {
  for (const f of files) fs.rmSync(f, { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});
function storePath(label: string): string {
  return path.join(dir, label);
}
function storeName(label: string): string {
  files.push(sharedStorePath(`${TAG}-${label}`));
  return `${TAG}-${label}`;
}

/** Runs test/support/client-worker.ts; resolves with what it printed, parsed. */
async function worker<T>(args: string[]): Promise<T> {
  const { code, out, err } = await runSupportChild('client-worker.ts', args);
  if (code !== 0) throw new Error(`worker exited ${code}: ${err}`);
  return JSON.parse(out) as T;
}

function roundTrip(
  sessions: ClientSessionCache,
  port: number,
  o: tls.ConnectionOptions = {},
): Promise<{ reused: boolean; received: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const socket = sessions.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...o });
    const received: Buffer[] = [];
    let reused = false;
    let failure: Error | undefined;
    socket.on('session', (s: Buffer) => received.push(s));
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write('GET / HTTP/1.0\r\n\r\n');
    });
    socket.on('data', () => undefined);
    socket.on('error', (e) => (failure = e));
    socket.on('close', () => (failure ? reject(failure) : resolve({ reused, received })));
  });
}

const SHARED = { sizeBytes: 1024 * 1024, slotBytes: 2048 };

// Child processes load the TypeScript sources through the transpiler: seconds each on a busy machine.
jest.setTimeout(120_000);

describe('one cache for a cluster, and across a restart', () => {
  test('2 real cluster workers against single-use TLS 1.3 tickets: no ticket is offered twice, returning connections resume', async () => {
    const server = await startSServer(['-tls1_3', '-no_ticket', '-num_tickets', '2']);
    try {
      const count = 10;
      const stats = await worker<ClientSessionStats[]>(['cluster', '2', String(server.port), String(count), storeName('cluster')]);
      expect(stats).toHaveLength(2);
      const sum = (f: (s: ClientSessionStats) => number) => stats.reduce((n, s) => n + f(s), 0);
      // A ticket offered twice would be declined by this server: none is.
      expect(sum((s) => s.refused.declined)).toBe(0);
      expect(sum((s) => s.failed)).toBe(0);
      expect(sum((s) => s.connections)).toBe(2 * count);
      // Only the first connections of the run, before any ticket exists, are full handshakes.
      expect(sum((s) => s.resumed) / (2 * count)).toBeGreaterThanOrEqual(0.9);
      expect(sum((s) => s.resumed)).toBe(sum((s) => s.offered));
    } finally {
      await server.stop();
    }
  });

  test('a restart: the next process resumes on its first connection (TLS 1.3 single-use tickets, TLS 1.2 Node server)', async () => {
    const sserver = await startSServer(['-tls1_3', '-no_ticket', '-num_tickets', '2']);
    const node = tlsServer({ maxVersion: 'TLSv1.2' });
    const nodePort = await listen(node);
    try {
      const store = storePath('restart');
      const ports = `${sserver.port},${nodePort}`;
      const first = await worker<ClientSessionStats>(['once', ports, '1', store]);
      expect(first).toMatchObject({ connections: 2, full: 2, resumed: 0 });
      const second = await worker<ClientSessionStats>(['once', ports, '3', store]);
      expect(second).toMatchObject({ connections: 6, full: 0, offered: 6, resumed: 6 });
      expect(Object.keys(second.upstreams)).toHaveLength(2);
      expect(fs.statSync(store).mode & 0o777).toBe(0o600);
    } finally {
      await sserver.stop();
      await close(node);
    }
  });
});

describe('faults: a bad entry is a full handshake, never a failed connection', () => {
  let server: tls.Server;
  let port: number;
  beforeAll(async () => {
    server = tlsServer({ maxVersion: 'TLSv1.2' });
    port = await listen(server);
  });
  afterAll(() => close(server));

  test('an entry whose bytes were damaged in the file', async () => {
    const file = storePath('corrupt');
    const sessions = clientSessions({ shared: { path: file, ...SHARED } });
    const first = await roundTrip(sessions, port);
    expect(first.received).toHaveLength(1);
    // Damage the filed session where it lies in the file.
    const bytes = fs.readFileSync(file);
    const at = bytes.indexOf(first.received[0]!);
    expect(at).toBeGreaterThan(0);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([bytes[at + 40]! ^ 0xff]), 0, 1, at + 40);
    fs.closeSync(fd);
    expect((await roundTrip(sessions, port)).reused).toBe(false);
    const s = sessions.stats();
    expect(s).toMatchObject({ full: 2, failed: 0 });
    expect(s.shared!.corrupt).toBe(1);
    expect((await roundTrip(sessions, port)).reused).toBe(true);
    sessions.close();
  });

  test('the store file truncated under the process: no crash, no failed connection, the file is mapped again within a second', async () => {
    const file = storePath('truncated');
    const sessions = clientSessions({ shared: { path: file, ...SHARED } });
    await roundTrip(sessions, port);
    expect((await roundTrip(sessions, port)).reused).toBe(true);
    fs.truncateSync(file, 0);
    // The first touch of the mapping after the truncation faults: answered with zero pages, a miss.
    expect((await roundTrip(sessions, port)).reused).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    await roundTrip(sessions, port);
    expect(sessions.stats().shared).toMatchObject({ lost: false, reopens: 1 });
    expect(fs.statSync(file).size).toBe(SHARED.sizeBytes);
    expect((await roundTrip(sessions, port)).reused).toBe(true);
    expect(sessions.stats().failed).toBe(0);
    sessions.close();
  });

  test('an entry that is not a session of this Node (foreign bytes under the upstream key)', async () => {
    const file = storePath('foreign');
    const sessions = clientSessions({ shared: { path: file, ...SHARED } });
    const key = upstreamKey({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
    const raw = new native.ClientStore(file, SHARED.sizeBytes, SHARED.slotBytes, false);
    expect(
      raw.put(
        placeKey(key.digest, TLS12, 0),
        Buffer.from('not a session, but a well-formed entry'),
        Math.ceil(Date.now() / 1000) + 60,
        false,
      ),
    ).toBe(true);
    raw.close();
    expect((await roundTrip(sessions, port)).reused).toBe(false);
    expect(sessions.stats().shared!.unreadable).toBe(1);
    expect((await roundTrip(sessions, port)).reused).toBe(true);
    sessions.close();
  });

  test('session bytes leave the file when they leave the cache (a taken ticket, clear())', async () => {
    const file = storePath('wipe');
    const tls13 = tlsServer();
    const port13 = await listen(tls13);
    try {
      const sessions = clientSessions({ shared: { path: file, ...SHARED } });
      const verified = { rejectUnauthorized: true, ca: cert.cert };
      const { received } = await roundTrip(sessions, port13, verified);
      expect(received).toHaveLength(2);
      // What the cache files: verified TLS 1.3 sessions without the server certificate (session-facts.ts).
      const inFile = () => received.map((r) => fs.readFileSync(file).includes(withoutPeerCertificate(r)));
      expect(inFile()).toEqual([true, true]);
      // Node's server issues no new ticket on a resumed TLS 1.3 connection: one ticket left.
      expect((await roundTrip(sessions, port13, verified)).reused).toBe(true);
      expect(inFile().filter(Boolean)).toHaveLength(1);
      sessions.clear();
      expect(inFile()).toEqual([false, false]);
      sessions.close();
    } finally {
      await close(tls13);
    }
  });

  // Issue 22: what another local user can do to the client cache's file, as the server store's
  // tests show for the server (shared-store-faults.test.ts, item 4).
  rootOnly("another local user can neither read the cache's file nor slip one of theirs in its place", async () => {
    const other = localUser(`tlsr-other${LINE}`);
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'tsc-client-users-'));
    fs.chmodSync(shared, 0o1777); // like /tmp: anyone may create files, only owners remove or rename theirs
    const file = path.join(shared, 'cache');
    const sessions = clientSessions({ shared: { path: file, ...SHARED } });
    try {
      await roundTrip(sessions, port);
      const st = fs.statSync(file);
      expect({ uid: st.uid, mode: st.mode & 0o777 }).toEqual({ uid: 0, mode: 0o600 });
      // Read: the file is 0600.
      const read = runAs(other, ['cat', file]);
      expect(read.status).not.toBe(0);
      expect(read.stderr).toMatch(/Permission denied/);
      // Replace: the directory's sticky bit keeps another user from renaming over it.
      const planted = path.join(shared, 'planted');
      expect(runAs(other, ['sh', '-c', `printf x > ${planted} && chmod 600 ${planted}`]).status).toBe(0);
      const mv = runAs(other, ['mv', '-f', planted, file]);
      expect(mv.status).not.toBe(0);
      expect(fs.statSync(file).ino).toBe(st.ino);
      // Without the sticky bit the rename succeeds; the cache sees the new file within a second,
      // refuses it (another user's) and keeps its own mapping: its sessions still resume, nothing
      // is read from or written to the planted file.
      fs.chmodSync(shared, 0o777);
      expect(runAs(other, ['mv', '-f', planted, file]).status).toBe(0);
      expect(fs.statSync(file).uid).toBe(other.uid);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await roundTrip(sessions, port)).reused).toBe(true);
      expect(sessions.stats().shared).toMatchObject({ lost: false, reopens: 0 });
      expect(sessions.stats().failed).toBe(0);
      expect(fs.readFileSync(file, 'latin1')).toBe('x');
    } finally {
      sessions.close();
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  test('bad shared options and a store path that is a symlink: clear errors, nothing opened', () => {
    expectBadInput(
      'store option',
      'clientSessions({ shared: {} })',
      () => clientSessions({ shared: {} }),
      TypeError,
      /exactly one of "shared.name" or "shared.path"/,
    );
    expectBadInput(
      'store option',
      "clientSessions({ shared: { path: 'relative' } })",
      () => clientSessions({ shared: { path: 'relative' } }),
      RangeError,
      /"shared.path" must be an absolute file path/,
    );
    const target = storePath('target');
    const link = storePath('link');
    fs.writeFileSync(target, '', { mode: 0o600 });
    fs.symlinkSync(target, link);
    expect(() => clientSessions({ shared: { path: link, ...SHARED } })).toThrow(link);
  });
});
