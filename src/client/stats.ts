/**
 * What the outbound cache counts, per upstream and in total: one list of counter names, one
 * list of refusal reasons, read by `stats()`, the Prometheus export and the docs.
 */

/**
 * Why an offered session did not resume, as far as the client can tell. A TLS server does not
 * say why it declined a session: the client sees a full handshake where it offered one.
 * - `declined`: the server answered the offer with a full handshake on the same protocol (ticket
 *   key rotated or unknown, session evicted or expired on the server, another session-ID context).
 * - `protocolChanged`: the handshake negotiated another protocol version than the session's.
 */
export const CLIENT_REFUSAL_REASONS = ['declined', 'protocolChanged'] as const;
export type ClientRefusalReason = (typeof CLIENT_REFUSAL_REASONS)[number];

/** Counters of one upstream (or of all of them, in `ClientSessionStats`). */
export interface ClientUpstreamStats {
  /** TLS connections opened through the cache. */
  connections: number;
  /** Connections that offered a cached session. */
  offered: number;
  /** Offered connections that resumed (`isSessionReused()`). */
  resumed: number;
  /**
   * Of those, resumed without a key exchange (TLS 1.3 psk_ke); see the `pskKe` option. Node shows
   * it only as a missing (EC)DH key in `getEphemeralKeyInfo()`, which also happens with hybrid
   * groups (X25519MLKEM768, the default on Node 22, 24, 26): psk_ke is counted only for upstreams
   * whose handshakes show an (EC)DH key (classic groups, e.g. `ecdhCurve: 'X25519'`); with the
   * default hybrid group this stays 0 whatever was negotiated.
   */
  resumedPskKe: number;
  /** Connections that made a full handshake because nothing was cached for the upstream. */
  full: number;
  /** Offered connections the server answered with a full handshake, by reason. */
  refused: Record<ClientRefusalReason, number>;
  /** Connections that closed before their handshake completed (an offered TLS 1.2 session is evicted). */
  failed: number;
  /** Sessions the server gave and the cache filed (TLS 1.3 tickets, TLS 1.2 sessions). */
  received: number;
  /** Sessions the server gave that cannot be resumed (no ticket and no session ID, lifetime 0) or do not decode: not filed. */
  unusable: number;
}

/** The plain numeric counters of `ClientUpstreamStats`, in the order stats and metrics list them. */
export const CLIENT_COUNTERS = ['connections', 'offered', 'resumed', 'resumedPskKe', 'full', 'failed', 'received', 'unusable'] as const;
export type ClientCounter = (typeof CLIENT_COUNTERS)[number];

export function emptyUpstreamStats(): ClientUpstreamStats {
  return {
    connections: 0,
    offered: 0,
    resumed: 0,
    resumedPskKe: 0,
    full: 0,
    refused: Object.fromEntries(CLIENT_REFUSAL_REASONS.map((r) => [r, 0])) as Record<ClientRefusalReason, number>,
    failed: 0,
    received: 0,
    unusable: 0,
  };
}

export function addUpstreamStats(into: ClientUpstreamStats, from: ClientUpstreamStats): void {
  for (const c of CLIENT_COUNTERS) into[c] += from[c];
  for (const r of CLIENT_REFUSAL_REASONS) into.refused[r] += from.refused[r];
}

export function copyUpstreamStats(s: ClientUpstreamStats): ClientUpstreamStats {
  const out = emptyUpstreamStats();
  addUpstreamStats(out, s);
  return out;
}
