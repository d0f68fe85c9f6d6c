/**
 * A simulated client population and the load phases run over it, in this process. Use it from
 * a process of its own (see `LoadgenProcess`), never inside the server being measured: the
 * handshakes run on native threads, but they share the process's CPU accounting.
 */
import { checkKeys, expectKind, expectOneOf, expectRange, optionalNumber, optionalString, rangeError, typeError } from '../library';
import { loadgenNative, type NativePopulation } from './native';

/** How a client treats sessions. */
export type ClientKind = 'reuse' | 'once' | 'sessionId' | 'fresh';
export const CLIENT_KINDS: readonly ClientKind[] = ['reuse', 'once', 'sessionId', 'fresh'];

/** One address the population connects to. */
export interface LoadTarget {
  /** IPv4 literal. Default: '127.0.0.1'. */
  host?: string;
  port: number;
}

/** The client population. */
export interface PopulationOptions {
  /** Where clients connect; each client is placed on one target at random (see `placement`). */
  targets: LoadTarget[];
  /** Simulated clients, each with its own session store. Default: 200. Range 1 to 1,000,000. */
  clients?: number;
  /**
   * Shares of client kinds (normalised; need not sum to 1). Default: { reuse: 1 }.
   * - `reuse`: keeps and offers its newest session on every connection.
   * - `once`: offers each session once, then drops it (browsers, RFC 8446 C.4); keeps the newest received.
   * - `sessionId`: TLS 1.2 without the ticket extension (SSL_OP_NO_TICKET): session IDs only.
   * - `fresh`: never offers a session.
   */
  kinds?: Partial<Record<ClientKind, number>>;
  /** Share of clients on TLS 1.3 (the rest TLS 1.2; `sessionId` clients are always TLS 1.2). Default: 0.5. */
  tls13?: number;
  /** SNI host name sent by every client. Default: none. */
  servername?: string;
  /** Seed for client placement and picking. Default: 1. */
  seed?: number;
  /**
   * How clients spread over several targets. `'client'` (default): each client is placed on one
   * target at random and stays there (DNS pinning, sticky sessions). `'connection'`: every
   * connection goes to a target at random, as behind a load balancer in front of a fleet.
   */
  placement?: 'client' | 'connection';
}

/** One load phase. */
export interface PhaseOptions {
  /** Phase length in milliseconds; 0 = until `connections` were made. Default: 5000. Range 0 to 3,600,000. */
  durationMs?: number;
  /** Threads, each with at most one connection in flight (the closed-loop concurrency). Default: 8. Range 1 to 512. */
  concurrency?: number;
  /** Open loop: connections started per second (0 = closed loop). Default: 0. */
  rate?: number;
  /** Stop after this many connections (0 = no limit). Default: 0. */
  connections?: number;
  /** Each client connects exactly once, in order (a warm-up that gives every client a session). Default: false. */
  sweep?: boolean;
  /** Timeout of each socket operation, milliseconds. Default: 5000. */
  timeoutMs?: number;
}

/** Counts for one client kind or protocol version. */
export interface KindCounts {
  /** Completed handshakes. */
  handshakes: number;
  /** Of those, the ones that offered a session. */
  offered: number;
  /** Of those, the ones the server resumed. */
  resumed: number;
}

/** Figures of one second or of a whole phase, as the clients saw them. */
export interface LoadReport {
  /** Milliseconds since the phase started (end of the interval). */
  elapsedMs: number;
  /** Length of the interval, milliseconds. */
  intervalMs: number;
  /** Completed TLS handshakes. */
  handshakes: number;
  /** Handshakes that were full (not resumed). */
  full: number;
  /** Handshakes the server resumed (SSL_session_reused). */
  resumed: number;
  /** Connections that offered a session. */
  offered: number;
  /** Connections that sent the request and read the response to close. */
  completed: number;
  /** Connections that failed at any stage. */
  failures: number;
  /** Failures by "stage: reason" (connect, handshake, write, response). */
  failureReasons: Record<string, number>;
  /** Handshakes, offers and resumptions by client kind. */
  kinds: Record<ClientKind, KindCounts>;
  /** The same by protocol version. */
  versions: Record<'TLSv1.2' | 'TLSv1.3', KindCounts>;
  /** Handshake latency (SSL_connect start to done; TCP connect excluded), microseconds. */
  latencyMicros: { p50: number; p90: number; p99: number };
}

export type ResolvedPopulationOptions = Required<Omit<PopulationOptions, 'servername' | 'targets' | 'kinds'>> & {
  targets: Required<LoadTarget>[];
  kinds: Record<ClientKind, number>;
  servername: string | undefined;
};

function share(field: string, value: unknown): number {
  return optionalNumber(field, value, 0, 1_000_000)!;
}

/** Validates population options (TypeError/RangeError naming the field) and fills defaults. */
export function resolvePopulationOptions(options: unknown): ResolvedPopulationOptions {
  expectKind('population', options, 'object');
  const o = options as PopulationOptions;
  checkKeys('population', o, ['targets', 'clients', 'kinds', 'tls13', 'servername', 'seed', 'placement']);
  if (!Array.isArray(o.targets) || o.targets.length === 0)
    throw typeError('population.targets', 'a non-empty array of { host, port }', o.targets);
  const targets = o.targets.map((t, i) => {
    expectKind(`population.targets[${i}]`, t, 'object');
    checkKeys(`population.targets[${i}]`, t, ['host', 'port']);
    expectKind(`population.targets[${i}].port`, t.port, 'integer');
    expectRange(`population.targets[${i}].port`, t.port, 1, 65535);
    const host = t.host ?? '127.0.0.1';
    if (typeof host !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
      throw typeError(`population.targets[${i}].host`, 'an IPv4 literal', host);
    }
    return { host, port: t.port };
  });
  const clients = o.clients ?? 200;
  expectKind('population.clients', clients, 'integer');
  expectRange('population.clients', clients, 1, 1_000_000, 'clients');
  const kinds: Record<ClientKind, number> = { reuse: 0, once: 0, sessionId: 0, fresh: 0 };
  if (o.kinds === undefined) kinds.reuse = 1;
  else {
    expectKind('population.kinds', o.kinds, 'object');
    checkKeys('population.kinds', o.kinds, CLIENT_KINDS);
    for (const k of CLIENT_KINDS) kinds[k] = o.kinds[k] === undefined ? 0 : share(`population.kinds.${k}`, o.kinds[k]);
    if (CLIENT_KINDS.every((k) => kinds[k] === 0)) throw rangeError('population.kinds', 'shares with at least one above 0', 'all 0');
  }
  const tls13 = optionalNumber('population.tls13', o.tls13, 0, 1) ?? 0.5;
  optionalString('population.servername', o.servername, 1, 255);
  const seed = o.seed ?? 1;
  expectKind('population.seed', seed, 'integer');
  expectRange('population.seed', seed, 0, Number.MAX_SAFE_INTEGER);
  const placement = expectOneOf('population.placement', o.placement ?? 'client', ['client', 'connection']);
  return { targets, clients, kinds, tls13, servername: o.servername, seed, placement };
}

/** Validates phase options and fills defaults. */
export function resolvePhaseOptions(options: unknown): Required<PhaseOptions> {
  expectKind('phase', options, 'object');
  const o = options as PhaseOptions;
  checkKeys('phase', o, ['durationMs', 'concurrency', 'rate', 'connections', 'sweep', 'timeoutMs']);
  const int = (field: keyof PhaseOptions, def: number, min: number, max: number, unit?: string): number => {
    const v = o[field] ?? def;
    expectKind(`phase.${field}`, v, 'integer');
    expectRange(`phase.${field}`, v as number, min, max, unit);
    return v as number;
  };
  const durationMs = int('durationMs', 5000, 0, 3_600_000, 'ms');
  const concurrency = int('concurrency', 8, 1, 512, 'threads');
  const connections = int('connections', 0, 0, Number.MAX_SAFE_INTEGER);
  const timeoutMs = int('timeoutMs', 5000, 1, 600_000, 'ms');
  const rate = optionalNumber('phase.rate', o.rate, 0, 1_000_000, 'connections/s') ?? 0;
  const sweep = o.sweep ?? false;
  expectKind('phase.sweep', sweep, 'boolean');
  if (durationMs === 0 && connections === 0 && !sweep)
    throw rangeError('phase.durationMs', 'above 0 without "phase.connections" or "phase.sweep"', '0');
  return { durationMs, concurrency, rate, connections, sweep, timeoutMs };
}

/** A population of simulated clients living in this process (their sessions persist across phases). */
export class Population {
  readonly options: ResolvedPopulationOptions;
  #handle: NativePopulation;

  constructor(options: PopulationOptions) {
    this.options = resolvePopulationOptions(options);
    const k = this.options.kinds;
    this.#handle = loadgenNative().createPopulation({
      clients: this.options.clients,
      shares: [k.reuse, k.once, k.sessionId, k.fresh],
      tls13Share: this.options.tls13,
      targets: this.options.targets,
      servername: this.options.servername,
      seed: this.options.seed,
      placement: this.options.placement,
    });
  }

  /** Runs one phase on native threads; `onSecond` gets each second's figures. Resolves with the totals. */
  run(phase: PhaseOptions = {}, onSecond?: (s: LoadReport) => void): Promise<LoadReport> {
    const p = resolvePhaseOptions(phase);
    return loadgenNative().run(this.#handle, p, onSecond);
  }

  /** Drops every client's session (a cold population). */
  forget(): void {
    loadgenNative().forget(this.#handle);
  }

  /** Clients by kind, on TLS 1.3, and holding a session now. */
  describe(): { clients: number; kinds: Record<string, number>; tls13: number; withSession: number } {
    return loadgenNative().describe(this.#handle);
  }
}
