/**
 * Issue 22 row 3: no session secret outlives its entry in a `path` store (a file on disk, kept
 * across restarts and backups). The client knows every secret: TLS 1.2 master secrets from its
 * key log, TLS 1.3 resumption PSKs from the sessions it was given (the server stores the same
 * value under the stateful ticket). The whole store file is read and searched for each one.
 * Checked by removing the wipe in StoreFile::Invalidate by hand (on Node 20): the flush and
 * expiry cases fail on both versions (the master secrets stay in the file); the eviction case
 * passes either way, since the new session's bytes cover the old one's master key at the same
 * offset, and stays as a guard for the slot format.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { unwrapClientSession } from '../../src/ops/probe';
import { attach, type SessionCache } from '../../src/server/attach';
import { element } from '../../src/server/peer-session-id-context';
import { close, listen, tlsServer, type Version } from '../support/tls';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsr-secrets-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const servers: tls.Server[] = [];
const attachments: SessionCache[] = [];
afterEach(async () => {
  for (const a of attachments.splice(0)) a.detach();
  await Promise.all(servers.splice(0).map(close));
});

/** SSL_SESSION ::= SEQUENCE { version, sslVersion, cipher, sessionID, masterKey, ... }: the master key (a TLS 1.3 session's resumption PSK). */
function masterKeyOf(clientSession: Buffer): Buffer {
  // Node 22+ wraps a client's session (identity prefix); the DER is OpenSSL's.
  const session = unwrapClientSession(clientSession).der;
  const seq = element(session, 0);
  let at = seq.contentStart;
  for (let field = 0; field < 4; field++) at = element(session, at).end;
  const key = element(session, at);
  if (key.tag !== 0x04) throw new Error(`no master key OCTET STRING in the session (tag ${key.tag})`);
  return session.subarray(key.contentStart, key.end);
}

interface Recorded {
  reused: boolean;
  /** Secrets of the client's key log (TLS 1.2: CLIENT_RANDOM's master secret; TLS 1.3: traffic secrets). */
  keylog: Buffer[];
  /** The master key of every session the client was given: what the server stores. */
  masters: Buffer[];
  /** The newest session. */
  session: Buffer | undefined;
}

/** One connection that records every secret the client can name. */
function connectRecording(port: number, version: Version, session?: Buffer): Promise<Recorded> {
  return new Promise((resolve, reject) => {
    const out: Recorded = { reused: false, keylog: [], masters: [], session: undefined };
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      rejectUnauthorized: false,
      minVersion: version,
      maxVersion: version,
      session,
    });
    socket.on('keylog', (line: Buffer) => {
      const hex = line.toString('latin1').trim().split(' ')[2];
      if (hex) out.keylog.push(Buffer.from(hex, 'hex'));
    });
    socket.on('session', (s: Buffer) => {
      out.masters.push(masterKeyOf(s));
      out.session = s;
    });
    socket.on('secureConnect', () => {
      out.reused = socket.isSessionReused();
      socket.write('x');
    });
    socket.on('data', () => undefined);
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
  });
}

/** `count` fresh connections; every secret they recorded. */
async function connections(port: number, version: Version, count: number): Promise<{ keylog: Buffer[]; masters: Buffer[] }> {
  const all = { keylog: [] as Buffer[], masters: [] as Buffer[] };
  for (let i = 0; i < count; i++) {
    const r = await connectRecording(port, version);
    all.keylog.push(...r.keylog);
    all.masters.push(...r.masters);
  }
  return all;
}

/** Secrets of `secrets` whose bytes appear anywhere in the store file. */
function foundIn(file: string, secrets: Buffer[]): Buffer[] {
  const bytes = fs.readFileSync(file);
  return secrets.filter((s) => s.length >= 16 && bytes.includes(s));
}

async function server(file: string, o: { timeoutSeconds?: number; sizeBytes?: number } = {}) {
  const s = tlsServer({ noTickets: true, sessionIdContext: 'secrets' });
  servers.push(s);
  const a = attach(s, {
    cache: o.timeoutSeconds ? { timeoutSeconds: o.timeoutSeconds } : {},
    shared: { path: file, sizeBytes: o.sizeBytes ?? 1024 * 1024 },
  });
  attachments.push(a);
  return { a, port: await listen(s) };
}

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  describe(`${version} sessions in a path store`, () => {
    test("control: while stored, each session's master secret is in the file once (the scan finds them)", async () => {
      const file = path.join(dir, `control-${version}`);
      const { a, port } = await server(file);
      const { keylog, masters } = await connections(port, version, 3);
      const stored = a.stats().shared!.entries;
      expect(stored).toBeGreaterThanOrEqual(3);
      expect(masters.length).toBe(stored);
      expect(foundIn(file, masters).length).toBe(stored);
      if (version === 'TLSv1.2') {
        // The key log's master secret is the session's: the DER reader reads the right field.
        expect(keylog.map((k) => k.toString('hex')).sort()).toEqual(masters.map((m) => m.toString('hex')).sort());
      } else {
        // Handshake and traffic secrets never go to the store; the PSK of each ticket does.
        expect(foundIn(file, keylog)).toEqual([]);
      }
    });

    test('flush({ all: true }) then detach(): no master secret left in the file', async () => {
      const file = path.join(dir, `flush-${version}`);
      const { a, port } = await server(file);
      const { keylog, masters } = await connections(port, version, 5);
      expect(foundIn(file, masters).length).toBe(masters.length);
      a.flush({ all: true });
      a.detach();
      expect(foundIn(file, [...keylog, ...masters])).toEqual([]);
    });

    test('expiry: an expired session is wiped when a lookup finds it expired (TLS 1.2), the rest by flush()', async () => {
      const file = path.join(dir, `expiry-${version}`);
      const { a, port } = await server(file, { timeoutSeconds: 1 });
      // A second server on the file: its own (empty) internal cache sends the lookup to the store.
      const b = await server(file, { timeoutSeconds: 1 });
      const offered = await connectRecording(port, version);
      const others = await connections(port, version, 2);
      expect(foundIn(file, [...offered.masters, ...others.masters]).length).toBe(offered.masters.length + others.masters.length);
      await new Promise((r) => setTimeout(r, 2100));
      if (version === 'TLSv1.2') {
        // The client offers its expired session: the lookup finds it expired and drops it. (A
        // TLS 1.3 client stops offering a ticket past its lifetime hint, so no lookup comes.)
        expect((await connectRecording(b.port, version, offered.session)).reused).toBe(false);
        expect(b.a.stats().shared!.expiries).toBeGreaterThanOrEqual(1);
        expect(foundIn(file, [masterKeyOf(offered.session!)])).toEqual([]);
      }
      // Nobody asks for the others: a plain flush() drops what expired.
      a.flush();
      expect(foundIn(file, [...offered.masters, ...others.masters])).toEqual([]);
    });

    test('eviction and overwrite in a full store: exactly the live entries hold secrets', async () => {
      const file = path.join(dir, `full-${version}`);
      const { a, port } = await server(file, { sizeBytes: 65536 });
      const capacity = a.stats().shared!.capacity;
      const masters: Buffer[] = [];
      while (masters.length < capacity * 2) masters.push(...(await connectRecording(port, version)).masters);
      const s = a.stats().shared!;
      expect(s.evictions).toBeGreaterThan(0);
      // Every evicted session's secret went with its slot's new occupant; the live ones are there.
      expect(foundIn(file, masters).length).toBe(s.entries);
    }, 60_000);
  });
}
