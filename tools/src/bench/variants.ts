/**
 * The servers a benchmark compares, as they are set up inside the server process. Adding a
 * variant is one entry here plus its name in a scenario (scenarios.ts).
 */
import * as crypto from 'node:crypto';
import { constants } from 'node:crypto';
import type * as https from 'node:https';
import type { RedisClientLike } from '../library';
import { attach, CacheMode, TicketKeyRing } from '../library';

/** The benchmark's control hook: internal to the library (stripped from its .d.ts), reached here only. */
function stopCounting(cache: object): void {
  (cache as { _benchStopCounting(): void })._benchStopCounting();
}

/**
 * What the bench parent hands every server process of one run (the same to every worker and
 * every fleet member), so that they can meet: a shared store name, a Redis server, a secret.
 */
export interface VariantContext {
  /** Unique per run (and per scenario): names the shared store file and the Redis keys. */
  runTag: string;
  /** A throwaway 32-byte secret made for this run, hex: fromSecret rings and fleet sealing. Never logged. */
  secretHex: string;
  /** Loopback port of the run's own redis-server (variants that need Redis). */
  redisPort?: number;
}

/** Resources a variant needs from the bench parent; it is skipped with a note when missing. */
export type VariantNeed = 'redis';

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
  /** Runs after createServer, before listen (the server listens once a returned promise settles). */
  setup?(server: https.Server, ctx: VariantContext): VariantHandle | void | Promise<VariantHandle | void>;
  /** Resources started by the bench parent for this variant. */
  needs?: readonly VariantNeed[];
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

/** Name of the run's shared store (file /dev/shm/tls-resumption.<name>, removed by the parent). */
export function sharedStoreName(ctx: Pick<VariantContext, 'runTag'>): string {
  return `bench-${ctx.runTag}`;
}

/** An ioredis client to the run's redis-server (ioredis: a dev dependency, resolved at run time). */
function redisClient(ctx: VariantContext): RedisClientLike & { disconnect(): void; on(e: 'error', l: (err: Error) => void): unknown } {
  if (ctx.redisPort === undefined) throw new Error("bench: this variant needs the run's redis-server");
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Redis = require('ioredis') as new (
    o: Record<string, unknown>,
  ) => RedisClientLike & { disconnect(): void; on(e: 'error', l: (err: Error) => void): unknown };
  const client = new Redis({ host: '127.0.0.1', port: ctx.redisPort, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined); // fleet code reports failures itself ('fleetError', syncErrors)
  return client;
}

/** attach with a ticket key ring (tickets on, internal cache on for clients without tickets). */
function attachRing(server: https.Server, ring: TicketKeyRing): VariantHandle {
  const cache = attach(server, { tickets: { enabled: true, keyRing: ring } });
  return { stats: () => ({ ...cache.stats() }), rotate: () => ring.rotate() };
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
  attachUncounted: {
    kind: 'node',
    label: 'attach, no resumption counting',
    description:
      'as attach, with the stats().resumption callbacks removed: the control that shows what counting costs (bench:instructions)',
    setup: (server) => {
      const cache = attach(server, { tickets: { enabled: false } });
      stopCounting(cache);
      return { stats: () => ({ ...cache.stats() }) };
    },
  },
  shared: {
    kind: 'node',
    label: 'attach + shared store',
    description:
      "Node https + attach(server, { tickets: { enabled: false }, shared: { name } }): every worker's sessions in one /dev/shm store",
    setup: (server, ctx) => {
      const cache = attach(server, { tickets: { enabled: false }, shared: { name: sharedStoreName(ctx) } });
      return { stats: () => ({ ...cache.stats() }) };
    },
  },
  sharedLookup: {
    kind: 'node',
    label: 'attach + shared store, store lookups only',
    description:
      'As `shared`, with cache.mode NO_INTERNAL_LOOKUP: every resumption is served by the store, which is what a resumption on another worker costs; compare with `attach` (the internal cache)',
    setup: (server, ctx) => {
      const cache = attach(server, {
        tickets: { enabled: false },
        cache: { mode: CacheMode.NO_INTERNAL_LOOKUP },
        shared: { name: sharedStoreName(ctx) },
      });
      return { stats: () => ({ ...cache.stats() }) };
    },
  },
  ring: {
    kind: 'node',
    label: 'attach + ticket ring',
    description:
      'Node https + attach(server, { tickets: { keyRing: TicketKeyRing.generate() } }): native key ring, renewed TLS 1.3 tickets; rotation = ring.rotate()',
    setup: (server) => attachRing(server, TicketKeyRing.generate({ rotateEverySeconds: 3600, keepKeys: 12 })),
  },
  ringUncounted: {
    kind: 'node',
    label: 'attach + ticket ring, no resumption counting',
    description: 'as ring, with the stats().resumption callbacks removed: the control that shows what counting costs (bench:instructions)',
    setup: (server) => {
      const handle = attachRing(server, TicketKeyRing.generate({ rotateEverySeconds: 3600, keepKeys: 12 }));
      stopCounting(attach(server));
      return handle;
    },
  },
  ringSecret: {
    kind: 'node',
    label: 'attach + fromSecret ring',
    description:
      'Node https + attach with TicketKeyRing.fromSecret(secret): every process derives the same keys; session-ID cache per process',
    setup: (server, ctx) => {
      const secret = Buffer.from(ctx.secretHex, 'hex');
      try {
        return attachRing(server, TicketKeyRing.fromSecret(secret, { rotateEverySeconds: 3600, keepKeys: 12 }));
      } finally {
        secret.fill(0);
      }
    },
  },
  fleet: {
    kind: 'node',
    label: 'attach + fleet (Redis)',
    description:
      'Node https + attach with fleet: { redis, secret, replicate: false } (TLS 1.2 session IDs in Redis) and TicketKeyRing.fromRedis (ticket keys through Redis)',
    needs: ['redis'],
    setup: async (server, ctx) => {
      const redis = redisClient(ctx);
      const secret = Buffer.from(ctx.secretHex, 'hex');
      try {
        const ring = TicketKeyRing.fromRedis(redis, {
          key: `bench:${ctx.runTag}:ticket-keys`,
          wrappingSecret: secret,
          rotateEverySeconds: 3600,
          keepKeys: 12,
        });
        const cache = attach(server, {
          tickets: { enabled: true, keyRing: ring },
          fleet: { redis, secret, prefix: `bench:${ctx.runTag}:session:`, replicate: false },
        });
        // Both members hold the fleet's keys before either serves a client.
        await ring.ready();
        let fleetErrors = 0;
        cache.on('fleetError', () => fleetErrors++);
        return { stats: () => ({ ...cache.stats(), fleetErrors }), rotate: () => ring.rotate() };
      } finally {
        secret.fill(0);
      }
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
