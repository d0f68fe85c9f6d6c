/**
 * The server side's `stats()` shapes and the converters from the addon's raw counters to them.
 */
import type { NativeResumptionStats, NativeStats } from '../common/native';
import type { SessionIdContextStats } from '../common/session-id-context';
import {
  CACHE_COUNTER_FIELDS,
  type CacheCounters,
  RESUMPTION_FAILURE_REASONS,
  type ResumptionFailures,
  type SharedStoreStats,
} from '../common/stats';
import type { FleetRingStats } from './fleet/redis-key-ring';
import type { FleetReplicationStats } from './fleet/replication';
import type { FleetSessionStats } from './fleet/session-store';
import type { TicketRingStats } from './ticket-key-ring';

export type { CacheCounters, ResumptionFailures } from '../common/stats';
export { RESUMPTION_FAILURE_REASONS } from '../common/stats';

/** The settings in force on the context, read back from OpenSSL. */
export interface SettingsStats {
  cache: {
    /** Whether OpenSSL's internal server cache is in use. */
    enabled: boolean;
    /** Raw SSL_SESS_CACHE_* mode. */
    mode: number;
    /** Most sessions kept (0: no limit). */
    size: number;
    /** Session lifetime, seconds. */
    timeoutSeconds: number;
  };
  tickets: {
    enabled: boolean;
    /** Tickets after each full TLS 1.3 handshake. */
    tls13Count: number;
    /** TLS 1.3 resumption without a key exchange (psk_ke) when the client offers it (`tickets.pskKe`). */
    pskKe: boolean;
  };
}

/** Protocol versions counted in `byProtocol`. */
export type ResumptionProtocol = 'TLSv1.2' | 'TLSv1.3';

/**
 * `stats().resumption`: handshakes whose ClientHello offered a session and what became of the
 * offer. `offered === resumed + sum(failed)` always. Counted natively when the ServerHello
 * leaves; handshakes below TLS 1.2 are not counted.
 */
export interface ResumptionStats {
  /** Handshakes whose ClientHello offered a session (ID, ticket or TLS 1.3 PSK); a TLS 1.3 client's random legacy session ID is not an offer. */
  offered: number;
  /** Of those, resumed. */
  resumed: number;
  /**
   * Of those, TLS 1.3 resumptions that ran no key exchange (psk_ke: `tickets.pskKe` and a client
   * that offers it, e.g. `clientSessions({ pskKe: true })`), read off the ServerHello (no
   * key_share). Such a connection has no forward secrecy of its own (docs/api.md, psk_ke).
   */
  resumedPskKe: number;
  /** Offered but not resumed, by reason; each attempt counts once. */
  failed: ResumptionFailures;
  byProtocol: Record<ResumptionProtocol, { offered: number; resumed: number }>;
}

/** What `stats()` returns. */
export interface SessionCacheStats extends CacheCounters {
  settings: SettingsStats;
  /** The session-ID context in force: where it comes from and a fingerprint to compare between machines. */
  sessionIdContext: SessionIdContextStats;
  /** Offered sessions and why the ones that did not resume did not. */
  resumption: ResumptionStats;
  /** Present when attached with `fleet` (session store) and/or a `TicketKeyRing.fromRedis` ring. */
  fleet?: Partial<FleetSessionStats> & Partial<FleetRingStats> & { replication?: FleetReplicationStats };
  /** Ticket key ring counters, when `tickets.keyRing` is set (shared by every context using that ring). */
  tickets?: TicketRingStats;
  /** The shared store's counters (all processes using it), when `shared` is attached. */
  shared?: SharedStoreStats;
}

export function toResumption(raw: NativeResumptionStats): ResumptionStats {
  const sum = (v: Record<ResumptionProtocol, number>) => v['TLSv1.2'] + v['TLSv1.3'];
  const failed = {} as ResumptionFailures;
  for (const reason of RESUMPTION_FAILURE_REASONS) failed[reason] = sum(raw.failed[reason]);
  return {
    offered: sum(raw.offered),
    resumed: sum(raw.resumed),
    resumedPskKe: sum(raw.resumedPskKe),
    failed,
    byProtocol: {
      'TLSv1.2': { offered: raw.offered['TLSv1.2'], resumed: raw.resumed['TLSv1.2'] },
      'TLSv1.3': { offered: raw.offered['TLSv1.3'], resumed: raw.resumed['TLSv1.3'] },
    },
  };
}

const SESS_CACHE_SERVER = 0x2;
const SESS_CACHE_NO_INTERNAL = 0x300;

export function toStats(raw: NativeStats, resumption: ResumptionStats): Omit<SessionCacheStats, 'sessionIdContext'> {
  const { mode, size, timeoutSeconds, ticketsEnabled, tls13Count, pskKe, ...counters } = raw;
  const enabled = (mode & SESS_CACHE_SERVER) !== 0 && (mode & SESS_CACHE_NO_INTERNAL) !== SESS_CACHE_NO_INTERNAL;
  return {
    ...counters,
    settings: {
      cache: { enabled, mode, size, timeoutSeconds },
      tickets: { enabled: ticketsEnabled, tls13Count, pskKe },
    },
    resumption,
  };
}

export const ZERO_COUNTERS: Readonly<CacheCounters> = (() => {
  const zero = {} as CacheCounters;
  for (const field of CACHE_COUNTER_FIELDS) zero[field] = 0;
  return Object.freeze(zero);
})();
