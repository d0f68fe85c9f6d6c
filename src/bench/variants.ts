/**
 * The servers a benchmark compares, as they are set up inside the server process. Adding a
 * variant is one entry here plus its name in a scenario (scenarios.ts): for example the shared
 * store, once it exists:
 *   shared: { label: 'attach, shared store, tickets off', setup: (s) => attach(s, { tickets: { enabled: false }, shared: {} }) },
 */
import * as crypto from 'node:crypto';
import { constants } from 'node:crypto';
import type * as https from 'node:https';

import { attach } from '../attach';

/** What a variant leaves behind in the server process. */
export interface VariantHandle {
  /** Extra figures for the report (for example the attached cache's counters). */
  stats?(): Record<string, unknown>;
  /** Ticket key rotation as an operator of this server would do it mid-run. Default: setTicketKeys with a fresh key. */
  rotate?(): void;
}

/** A Node server configuration under test. */
export interface NodeVariant {
  kind: 'node';
  /** Short label for tables and charts. */
  label: string;
  /** One line saying what is configured. */
  description: string;
  /** https.createServer options besides key and cert. */
  serverOptions?: https.ServerOptions;
  /** Runs after createServer, before listen. */
  setup?(server: https.Server): VariantHandle | void;
}

/** A C server anchor started from a generated config (see anchors.ts). */
export interface AnchorVariant {
  kind: 'nginx' | 'haproxy';
  label: string;
  description: string;
}

export type Variant = NodeVariant | AnchorVariant;

/**
 * The documented JS session cache: Node's 'newSession'/'resumeSession' events over a Map, as in
 * the tls.Server docs, bounded to the same size as the internal cache's default.
 */
function installJsCache(server: https.Server): VariantHandle {
  const sessions = new Map<string, Buffer>();
  const limit = 20480;
  let stored = 0;
  let hits = 0;
  let misses = 0;
  server.on('newSession', (id: Buffer, data: Buffer, cb: () => void) => {
    const key = id.toString('hex');
    sessions.set(key, data);
    stored++;
    if (sessions.size > limit) sessions.delete(sessions.keys().next().value as string);
    cb();
  });
  server.on('resumeSession', (id: Buffer, cb: (err: Error | null, data: Buffer | null) => void) => {
    const data = sessions.get(id.toString('hex')) ?? null;
    if (data) hits++;
    else misses++;
    cb(null, data);
  });
  return { stats: () => ({ sessions: sessions.size, stored, hits, misses }) };
}

export const VARIANTS = {
  stock: {
    kind: 'node',
    label: 'node stock',
    description: 'Node https, defaults (TLS tickets on, no session-ID cache)',
  },
  jsCache: {
    kind: 'node',
    label: 'node JS cache',
    description: "Node https, tickets off, documented 'newSession'/'resumeSession' Map cache",
    serverOptions: { secureOptions: constants.SSL_OP_NO_TICKET },
    setup: installJsCache,
  },
  attach: {
    kind: 'node',
    label: 'attach',
    description: 'Node https + attach(server, { tickets: { enabled: false } }): OpenSSL internal cache',
    setup: (server) => {
      const cache = attach(server, { tickets: { enabled: false } });
      return { stats: () => ({ ...cache.stats() }) };
    },
  },
  nginx: {
    kind: 'nginx',
    label: 'nginx',
    description: 'nginx, 1 worker, ssl_session_cache shared:SSL:10m, tickets off',
  },
  haproxy: {
    kind: 'haproxy',
    label: 'haproxy',
    description: 'HAProxy, 1 thread, tune.ssl.cachesize 20000, no-tls-tickets',
  },
} satisfies Record<string, Variant>;

export type VariantName = keyof typeof VARIANTS;

/** Default rotation: what an operator of a stock server does (a new 48-byte key). */
export function rotateTicketKeys(server: https.Server): void {
  server.setTicketKeys(crypto.randomBytes(48));
}
