/**
 * The `fleet` option group of `attach()`: sessions shared by many machines through Redis,
 * replicated to every member's own store (the default) or looked up per handshake (`replicate: false`).
 */

import { type RedisAdapter, type RedisClientLike, redisAdapter } from '../../common/redis-client';
import { checkSecret } from '../../common/sealed-box';
import { checkKeys, ErrorCodes, expectKind, expectPresent, expectRange, rangeError, typeError } from '../../common/validate';

/**
 * `attach(server, { fleet })`: share sessions across machines through Redis. By default every
 * member replicates (TLS 1.2 session IDs and TLS 1.3 stateful tickets, resumed from local memory);
 * `replicate: false` is the lookup mode (TLS 1.2 session IDs only, one Redis GET per resumption).
 */
export interface FleetOptions {
  /** An ioredis or node-redis client you created (and close). Required. */
  redis: RedisClientLike;
  /** 32 bytes every member holds; sessions are sealed with AES-256-GCM under a key derived from it. Required. */
  secret: Buffer | Uint8Array;
  /** Prefix of the Redis keys sessions are stored under. Default: 'tls:session:'. */
  prefix?: string;
  /** Lookup mode only (`replicate: false`): deadline for one lookup, milliseconds; past it the handshake goes on as a full one. Default: 20. Range 1-5000. */
  lookupTimeoutMs?: number;
  /**
   * Replicate instead of looking up: every member writes the sessions it issues (TLS 1.2 session
   * IDs and TLS 1.3 stateful tickets) to a Redis stream and applies the other members' sessions
   * to its own store (the `shared` store when attached, else the in-process cache) as they
   * arrive, so a handshake reads only local memory. `false`: the lookup mode (TLS 1.2 session IDs
   * only, looked up in Redis during the handshake, which Node pauses); `lookupTimeoutMs` and
   * `maxSessions` belong to it and are refused with replication. Default: true.
   */
  replicate?: boolean;
  /**
   * Live session entries one member may hold in Redis at once (each lives the session lifetime,
   * `cache.timeoutSeconds`): past it, new sessions are not written and resume on this member only
   * (`stats().fleet.writesDropped`), so a flood of unique full handshakes cannot grow Redis past
   * members × maxSessions entries. Lookup mode only (`replicate: false`; a replicating fleet's
   * stream is trimmed to a member's store size). Default: 20480. Range 1-10000000.
   */
  maxSessions?: number;
}

export interface ResolvedFleet {
  redis: RedisAdapter;
  secret: Buffer;
  prefix: string;
  lookupTimeoutMs: number;
  replicate: boolean;
  maxSessions: number;
}

export function resolveFleet(value: unknown): ResolvedFleet {
  expectKind('fleet', value, 'object');
  const f = value as Record<string, unknown>;
  checkKeys('fleet', f, ['redis', 'secret', 'prefix', 'lookupTimeoutMs', 'replicate', 'maxSessions']);
  if (f.replicate !== undefined) expectKind('fleet.replicate', f.replicate, 'boolean');
  expectPresent('fleet.redis', f.redis, 'an ioredis or node-redis client (required)');
  const redis = redisAdapter(f.redis, 'fleet.redis');
  if (f.prefix !== undefined && (typeof f.prefix !== 'string' || f.prefix.length < 1 || f.prefix.length > 128)) {
    throw typeError('fleet.prefix', 'a string of 1 to 128 characters', f.prefix);
  }
  const integer = (name: 'lookupTimeoutMs' | 'maxSessions', fallback: number, max: number, unit: string): number => {
    if (f[name] === undefined) return fallback;
    expectKind(`fleet.${name}`, f[name], 'integer');
    expectRange(`fleet.${name}`, f[name] as number, 1, max, unit);
    return f[name] as number;
  };
  const lookupTimeoutMs = integer('lookupTimeoutMs', 20, 5000, 'milliseconds');
  const maxSessions = integer('maxSessions', 20480, 10_000_000, 'sessions');
  const replicate = f.replicate !== false;
  // Replication is the default since lookup mode was: a fleet written for lookups must say so,
  // not silently lose its deadline or its Redis bound.
  for (const name of ['lookupTimeoutMs', 'maxSessions'] as const) {
    if (replicate && f[name] !== undefined) {
      throw rangeError(
        `fleet.${name}`,
        'set only with fleet.replicate: false (the lookup mode; replication, the default, never looks a session up in Redis)',
        `${f[name]} with replication on`,
        ErrorCodes.invalidValue,
      );
    }
  }
  // The secret last: once copied, nothing after it can throw and leave the copy unwiped.
  expectPresent('fleet.secret', f.secret, 'a Buffer of 32 bytes (required)');
  const secret = checkSecret('fleet.secret', f.secret);
  return {
    redis,
    secret,
    prefix: (f.prefix as string | undefined) ?? 'tls:session:',
    lookupTimeoutMs,
    replicate,
    maxSessions,
  };
}
