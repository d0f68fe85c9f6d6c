/**
 * The `fleet` option group of `attach()`: Redis-backed session IDs shared by many machines.
 */

import { type RedisAdapter, type RedisClientLike, redisAdapter } from '../../common/redis-client';
import { checkSecret } from '../../common/sealed-box';
import { checkKeys, expectKind, expectPresent, expectRange, typeError } from '../../common/validate';

/** `attach(server, { fleet })`: share TLS 1.2 session IDs across machines through Redis. */
export interface FleetOptions {
  /** An ioredis or node-redis client you created (and close). Required. */
  redis: RedisClientLike;
  /** 32 bytes every member holds; sessions are sealed with AES-256-GCM under a key derived from it. Required. */
  secret: Buffer | Uint8Array;
  /** Prefix of the Redis keys sessions are stored under. Default: 'tls:session:'. */
  prefix?: string;
  /** Deadline for one lookup, milliseconds; past it the handshake goes on as a full one. Default: 20. Range 1-5000. */
  lookupTimeoutMs?: number;
  /**
   * Replicate instead of looking up: every member writes the sessions it issues (TLS 1.2 session
   * IDs and TLS 1.3 stateful tickets) to a Redis stream and applies the other members' sessions
   * to its own store (the `shared` store when attached, else the in-process cache) as they
   * arrive, so a handshake reads only local memory. `lookupTimeoutMs` does not apply. Default: false.
   */
  replicate?: boolean;
}

export interface ResolvedFleet {
  redis: RedisAdapter;
  secret: Buffer;
  prefix: string;
  lookupTimeoutMs: number;
  replicate: boolean;
}

export function resolveFleet(value: unknown): ResolvedFleet {
  expectKind('fleet', value, 'object');
  const f = value as Record<string, unknown>;
  checkKeys('fleet', f, ['redis', 'secret', 'prefix', 'lookupTimeoutMs', 'replicate']);
  if (f.replicate !== undefined) expectKind('fleet.replicate', f.replicate, 'boolean');
  expectPresent('fleet.redis', f.redis, 'an ioredis or node-redis client (required)');
  const redis = redisAdapter(f.redis, 'fleet.redis');
  expectPresent('fleet.secret', f.secret, 'a Buffer of 32 bytes (required)');
  const secret = checkSecret('fleet.secret', f.secret);
  let prefix = 'tls:session:';
  if (f.prefix !== undefined) {
    if (typeof f.prefix !== 'string' || f.prefix.length < 1 || f.prefix.length > 128) {
      secret.fill(0);
      throw typeError('fleet.prefix', 'a string of 1 to 128 characters', f.prefix);
    }
    prefix = f.prefix;
  }
  let lookupTimeoutMs = 20;
  if (f.lookupTimeoutMs !== undefined) {
    try {
      expectKind('fleet.lookupTimeoutMs', f.lookupTimeoutMs, 'integer');
      expectRange('fleet.lookupTimeoutMs', f.lookupTimeoutMs as number, 1, 5000, 'milliseconds');
    } catch (err) {
      secret.fill(0);
      throw err;
    }
    lookupTimeoutMs = f.lookupTimeoutMs as number;
  }
  return { redis, secret, prefix, lookupTimeoutMs, replicate: f.replicate === true };
}
