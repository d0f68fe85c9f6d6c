/**
 * The in-process store of client sessions: per upstream, up to N TLS 1.3 tickets (each handed out
 * once: `take` removes it) and the newest TLS 1.2 session (reused until it expires or the server
 * refuses it); bounded in sessions and bytes across all upstreams, least recently used upstream
 * first. Nothing here blocks or throws on the connection path.
 */
import type { ResolvedClientSessionsOptions } from './options';

export type ClientProtocol = 'TLSv1.2' | 'TLSv1.3';

/** One session as Node handed it to the client ('session' event), with when it stops being offered. */
export interface ClientSession {
  data: Buffer;
  protocol: ClientProtocol;
  /** Epoch milliseconds after which the session is not offered. */
  expiresAtMs: number;
}

/** How a store's contents stand, for `stats().cache`. */
export interface StoreCounters {
  /** Sessions held now. */
  sessions: number;
  /** Bytes of session data held now (a shared store: the file bytes its entries occupy). */
  bytes: number;
  /** Upstreams with at least one session (the in-process store only: a shared store does not count them). */
  upstreams?: number;
  /** Sessions dropped for room: the upstream's ticket limit, `maxSessions` or `maxBytes`. */
  evicted: number;
  /** Sessions dropped because their lifetime passed before anyone took them. */
  expired: number;
}

interface Upstream {
  /** TLS 1.3 tickets, oldest first. */
  tickets: ClientSession[];
  tls12: ClientSession | undefined;
}

/** What every client session store does (this one, and the shared-memory one). */
export interface ClientSessionStore {
  /** A session to offer for `id`, or undefined. A TLS 1.3 ticket leaves the store; a TLS 1.2 session stays. */
  take(id: string, digest: Buffer, nowMs: number): ClientSession | undefined;
  /** Files a session the server gave. */
  put(id: string, digest: Buffer, session: ClientSession): void;
  /** Drops a TLS 1.2 session the server refused (only that one: a newer one may have arrived). */
  evict(id: string, digest: Buffer, session: ClientSession): void;
  /** Drops every session. */
  clear(): void;
  counters(): StoreCounters;
  /** Lets go of what the store holds open (a shared store's mapping; its entries stay in the file). */
  close(): void;
}

export class MemoryStore implements ClientSessionStore {
  readonly #options: ResolvedClientSessionsOptions;
  /** Map order is recency: the first upstream is the least recently used. */
  readonly #upstreams = new Map<string, Upstream>();
  #sessions = 0;
  #bytes = 0;
  #evicted = 0;
  #expired = 0;

  constructor(options: ResolvedClientSessionsOptions) {
    this.#options = options;
  }

  #touch(id: string): Upstream | undefined {
    const up = this.#upstreams.get(id);
    if (up) {
      this.#upstreams.delete(id);
      this.#upstreams.set(id, up);
    }
    return up;
  }

  #drop(up: Upstream, session: ClientSession): void {
    this.#sessions--;
    this.#bytes -= session.data.length;
    if (up.tls12 === session) up.tls12 = undefined;
    else up.tickets.splice(up.tickets.indexOf(session), 1);
  }

  #forgetIfEmpty(id: string, up: Upstream): void {
    if (up.tickets.length === 0 && !up.tls12) this.#upstreams.delete(id);
  }

  take(id: string, _digest: Buffer, nowMs: number): ClientSession | undefined {
    const up = this.#touch(id);
    if (!up) return undefined;
    let taken: ClientSession | undefined;
    // Newest ticket first: the freshest is the likeliest to be accepted.
    while (up.tickets.length > 0 && !taken) {
      const t = up.tickets.pop()!;
      this.#sessions--;
      this.#bytes -= t.data.length;
      if (t.expiresAtMs > nowMs) taken = t;
      else this.#expired++;
    }
    // The rest may have passed their lifetime while waiting.
    for (const t of up.tickets.filter((t) => t.expiresAtMs <= nowMs)) {
      this.#drop(up, t);
      this.#expired++;
    }
    if (!taken && up.tls12) {
      if (up.tls12.expiresAtMs > nowMs) taken = up.tls12;
      else {
        this.#drop(up, up.tls12);
        this.#expired++;
      }
    }
    this.#forgetIfEmpty(id, up);
    return taken;
  }

  put(id: string, _digest: Buffer, session: ClientSession): void {
    let up = this.#touch(id);
    if (!up) {
      up = { tickets: [], tls12: undefined };
      this.#upstreams.set(id, up);
    }
    if (session.protocol === 'TLSv1.3') {
      up.tickets.push(session);
      if (up.tickets.length > this.#options.ticketsPerUpstream) {
        this.#drop(up, up.tickets[0]!);
        this.#evicted++;
      }
    } else {
      if (up.tls12) this.#drop(up, up.tls12);
      up.tls12 = session;
    }
    this.#sessions++;
    this.#bytes += session.data.length;
    this.#makeRoom();
  }

  /** Oldest session of the least recently used upstream goes first, until both budgets hold. */
  #makeRoom(): void {
    while (this.#sessions > this.#options.maxSessions || this.#bytes > this.#options.maxBytes) {
      const [id, up] = this.#upstreams.entries().next().value as [string, Upstream];
      this.#drop(up, up.tickets[0] ?? up.tls12!);
      this.#evicted++;
      this.#forgetIfEmpty(id, up);
    }
  }

  evict(id: string, _digest: Buffer, session: ClientSession): void {
    const up = this.#upstreams.get(id);
    if (!up || up.tls12 !== session) return;
    this.#drop(up, session);
    this.#forgetIfEmpty(id, up);
  }

  clear(): void {
    this.#upstreams.clear();
    this.#sessions = 0;
    this.#bytes = 0;
  }

  close(): void {
    this.clear();
  }

  counters(): StoreCounters {
    return {
      sessions: this.#sessions,
      bytes: this.#bytes,
      upstreams: this.#upstreams.size,
      evicted: this.#evicted,
      expired: this.#expired,
    };
  }
}
