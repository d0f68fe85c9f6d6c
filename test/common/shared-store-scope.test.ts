/**
 * Scoped stores (issue 22, "What must hold" 2): the shared store keys every entry by session-ID
 * context and session ID, so a lookup from another context is a miss before anything of the entry
 * is copied or decoded, counted `shared.contextMisses` and `resumption.failed.contextMismatch`
 * (never `corrupt` or `storeError`). A hit in the store happens exactly when OpenSSL accepts the
 * session's context: the lookup's scope is the context the connection holds when OpenSSL looks
 * the session up (native/common/session_id_context.h ConnectionScope; docs/internals.md#scoped-stores).
 *
 * Services here differ only by their certificate and carry no `sessionIdContext`: the default,
 * derived context (the store file and the certificates) is what keeps them apart. Each case has a
 * control: a second server of the first service resumes the session through the same store.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { NODE_BINDS_CONTEXT_TO_SERVER_NAME } from '../../src/common/session-id-context';
import { sharedStorePath } from '../../src/common/shared-store';
import type { SharedStoreStats } from '../../src/common/stats';
import { selfSignedCertificate } from '../../src/ops/certificate';
import { unwrapClientSession } from '../../src/ops/probe';
import { attach, type SessionCache } from '../../src/server/attach';
import type { AttachOptions } from '../../src/server/options';
import { close, connect, listen, tlsServer, type Version } from '../support/tls';

const MiB = 1 << 20;
const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];
const certA = selfSignedCertificate('a.test', 1);
const certB = selfSignedCertificate('b.test', 1);
const certOne = selfSignedCertificate('one.test', 1);
const certTwo = selfSignedCertificate('two.test', 1);

interface Service {
  server: tls.Server;
  cache: SessionCache;
  port: number;
}
const started: Service[] = [];
const files: string[] = [];

afterEach(async () => {
  for (const s of started.splice(0)) {
    s.cache.detach();
    await close(s.server);
  }
  for (const f of files.splice(0)) fs.rmSync(f, { force: true });
});

/** A server of `certificate` with tickets off (TLS 1.2 session IDs, TLS 1.3 stateful tickets) on the store. */
async function service(certificate: { key: string; cert: string }, shared: AttachOptions['shared'], sni = false): Promise<Service> {
  const server = tlsServer({ ...certificate, noTickets: true });
  if (sni) {
    server.addContext('one.test', certOne);
    server.addContext('two.test', certTwo);
  }
  const cache = attach(server, { shared });
  const s = { server, cache, port: await listen(server) };
  started.push(s);
  return s;
}

type Counters = Pick<SharedStoreStats, 'hits' | 'misses' | 'contextMisses' | 'corrupt'>;
function counters(s: Service): Counters & { contextMismatch: number; storeError: number } {
  const st = s.cache.stats();
  const { hits, misses, contextMisses, corrupt } = st.shared!;
  const failed = st.resumption.failed;
  return { hits, misses, contextMisses, corrupt, contextMismatch: failed.contextMismatch, storeError: failed.storeError };
}

function delta<T extends Record<string, number>>(after: T, before: T): T {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]!])) as T;
}

const stores: Array<[string, () => AttachOptions['shared']]> = [
  [
    'name',
    () => {
      const name = `scope-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
      files.push(sharedStorePath(name));
      return { name, sizeBytes: MiB };
    },
  ],
  [
    'path',
    () => {
      const p = path.join(os.tmpdir(), `tsc-scope-${process.pid}-${crypto.randomBytes(4).toString('hex')}.store`);
      files.push(p);
      return { path: p, sizeBytes: MiB };
    },
  ],
];

describe('scoped shared store: entries are keyed by session-ID context and session ID', () => {
  describe.each(stores)('a `%s` store', (_kind, store) => {
    test.each(VERSIONS)("%s: another service's session is a context miss, never decoded; the same service resumes it", async (version) => {
      const shared = store();
      const a = await service(certA, shared);
      const a2 = await service(certA, shared);
      const b = await service(certB, shared);
      expect(a.cache.stats().sessionIdContext.fingerprint).toBe(a2.cache.stats().sessionIdContext.fingerprint);
      expect(a.cache.stats().sessionIdContext.fingerprint).not.toBe(b.cache.stats().sessionIdContext.fingerprint);
      const noTicket = version === 'TLSv1.2';
      const first = await connect(a.port, { version, noTicket });
      expect(first.reused).toBe(false);
      expect(a.cache.stats().shared!.stores).toBeGreaterThan(0);

      const before = counters(b);
      const cross = await connect(b.port, { version, noTicket, session: first.session });
      expect(cross.reused).toBe(false);
      const d = delta(counters(b), before);
      // One lookup, refused by the scopes' memcmp: nothing copied, checked or decoded.
      expect(d).toEqual({ hits: 0, misses: 1, contextMisses: 1, corrupt: 0, contextMismatch: 1, storeError: 0 });

      const control = await connect(a2.port, { version, noTicket, session: first.session });
      expect(control.reused).toBe(true);
      expect(delta(counters(a2), before)).toMatchObject({ hits: 1, contextMisses: 1, corrupt: 0 });
      expect(a2.cache.stats().resumption.failed.contextMismatch).toBe(0);
    });
  });

  test.each(VERSIONS)(
    '%s, SNI contexts: a session resumes through the store on its own SNI name; on another name exactly when OpenSSL accepts it',
    async (version) => {
      const shared = stores[0]![1]();
      const s1 = await service(certA, shared, true);
      const s2 = await service(certA, shared, true);
      const noTicket = version === 'TLSv1.2';
      const fresh = async () => (await connect(s1.port, { version, noTicket, servername: 'one.test' })).session;

      const same = await connect(s2.port, { version, noTicket, servername: 'one.test', session: await fresh() });
      expect(same.reused).toBe(true);

      // Node 22+ clients offer a session wrapped with its name only to that name; the bare DER they
      // offer anywhere when the connection does not verify (as here): a client that does offer it.
      const bare = unwrapClientSession((await fresh())!).der;
      const before = counters(s2);
      const other = await connect(s2.port, { version, noTicket, servername: 'two.test', session: bare });
      const d = delta(counters(s2), before);
      if (NODE_BINDS_CONTEXT_TO_SERVER_NAME) {
        // Node 22/24 give each connection SHA-256(context | NUL | SNI name): OpenSSL refuses the
        // session of another name, and the store refuses it first, without decoding it.
        expect(other.reused).toBe(false);
        expect(d).toEqual({ hits: 0, misses: 1, contextMisses: 1, corrupt: 0, contextMismatch: 1, storeError: 0 });
      } else {
        // Node 20/26: one context for every SNI name of the server (the derived context covers
        // them all), so OpenSSL resumes the session on another name, and the store hands it over.
        expect(other.reused).toBe(true);
        expect(d).toMatchObject({ hits: 1, contextMisses: 0, corrupt: 0 });
      }
    },
  );

  test('the sessionIdContext option scopes the store the same way, and an equal option shares it', async () => {
    const shared = stores[1]![1]();
    const mk = async (sessionIdContext: string): Promise<Service> => {
      const server = tlsServer({ noTickets: true });
      const cache = attach(server, { shared, sessionIdContext });
      const s = { server, cache, port: await listen(server) };
      started.push(s);
      return s;
    };
    const a = await mk('service-a');
    const b = await mk('service-b');
    const a2 = await mk('service-a');
    const first = await connect(a.port, { version: 'TLSv1.2', noTicket: true });
    const before = counters(b);
    expect((await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(false);
    expect(delta(counters(b), before)).toMatchObject({ hits: 0, contextMisses: 1, corrupt: 0, contextMismatch: 1 });
    expect((await connect(a2.port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(true);
  });
});
