/**
 * The ring's public option and stat types: what `generate()`, `fromSecret()`, `fromRedis()`,
 * `add()`, `addKeyFile()` and `addSecret()` accept, and what `list()` and `stats()` return.
 * Types only, so every other file of the ring (and attach) can import them without a cycle.
 */
/** Options of `TicketKeyRing.generate()` and `TicketKeyRing.fromSecret()`. */
export interface TicketKeyRingOptions {
  /**
   * Seconds between automatic rotations (`generate`), or the length of one key epoch
   * (`fromSecret`; every process sharing the secret must use the same value). May be
   * fractional. Range 0.1 to 2^31-1 seconds. Default: 3600.
   */
  rotateEverySeconds?: number;
  /**
   * Keys kept, the encrypting one included: a ticket stays decryptable for `keepKeys - 1`
   * rotations after the key that issued it stopped encrypting. Range 1 to 1024. Default: 12.
   */
  keepKeys?: number;
  /** Clock, milliseconds since 1970 (as `Date.now`). For tests and fleets with their own time source. Default: `Date.now`. */
  now?: () => number;
}

/** Options of `TicketKeyRing.fromRedis()`: the ring options plus where and how the fleet meets. */
export interface RedisTicketKeyRingOptions extends Omit<TicketKeyRingOptions, 'now'> {
  /** Redis key of the ring document; the lock `{KEY}:lock` (same Redis Cluster slot) and the channel `KEY:changed` are used beside it. Default: 'tls:ticket-keys'. */
  key?: string;
  /** 32 bytes every member holds: keys are stored in Redis sealed with AES-256-GCM under it. Required. */
  wrappingSecret: Uint8Array;
  /** Seconds between polls of the ring (a missed publish converges within one). Range 0.1-3600. Default: 30. */
  pollIntervalSeconds?: number;
  /** While Redis is unreachable, keep rotating with local keys other members cannot open. Default: false (keep the last keys). */
  rotateLocallyWhenDown?: boolean;
}

/**
 * Key layouts `add()` understands (16-byte name first in all of them). 48-byte keys are
 * AES-128-CBC + HMAC-SHA256 with a 16-byte HMAC key; 80-byte keys AES-256-CBC + a 32-byte HMAC key.
 */
export type TicketKeyFormat =
  /** name | HMAC key | AES key: Node's `getTicketKeys()` / `setTicketKeys()` (48 bytes; 80 bytes in the same order). */
  | 'node'
  /**
   * nginx `ssl_session_ticket_key` files, as ngx_ssl_session_ticket_keys() reads them:
   * 48 bytes are name | AES key | HMAC key, 80 bytes are name | HMAC key | AES key.
   */
  | 'nginx'
  /** HAProxy `tls-ticket-keys` (struct tls_sess_key): name | AES key | HMAC key, 48 or 80 bytes; a base64 string is accepted. */
  | 'haproxy';

/** Options of `add()`. */
export interface AddKeyOptions {
  /** The key encrypts new tickets from now on (it then ages out like a rotated key). Default: false (decrypt only, kept until `remove()`). */
  encrypt?: boolean;
  /** Layout of the key bytes. Default: 'node' (Node's `getTicketKeys()`; for 80-byte keys also nginx's). */
  format?: TicketKeyFormat;
}

/** Options of `addKeyFile()`. */
export interface AddKeyFileOptions {
  /** 'nginx': one 48- or 80-byte raw key; 'haproxy': base64 lines, one key each. Required. */
  format: 'nginx' | 'haproxy';
  /** Encrypt with the file's key (nginx) or, as HAProxy does, with its penultimate key (the only one if just one). Default: false. */
  encrypt?: boolean;
}

/** Options of `addSecret()`. */
export interface AddSecretOptions {
  /** The new secret's keys encrypt from now on; the previous encrypting secret only decrypts. Default: false. */
  encrypt?: boolean;
}

/** What a key is used for now. */
export type TicketKeyRole = 'encrypt' | 'decrypt';

/** One key as `list()` shows it: never its bytes. */
export interface TicketKeyInfo {
  /** Hex of the 16-byte key name (sent in clear in every ticket). */
  id: string;
  role: TicketKeyRole;
  /** 'generated' by `generate()`/`rotate()`, 'added' with `add()`, 'derived' from a secret. */
  source: 'generated' | 'added' | 'derived' | 'fleet';
  /** 256: AES-256-CBC with a 32-byte HMAC key (80-byte keys); 128: AES-128-CBC (48-byte keys). */
  bits: 128 | 256;
  /**
   * Seconds since the key was added (generated, added) or since its epoch began (derived; negative
   * for the next epoch's key, which already decrypts to absorb clock skew).
   */
  ageSeconds: number;
  /** Derived keys: the epoch number. */
  epoch?: number;
  /** Derived keys: the secret's id (an HKDF fingerprint, not the secret). */
  secretId?: string;
}

/** Per-key counters. */
export interface TicketKeyCounters {
  /** Tickets this key encrypted. */
  encrypted: number;
  /** Tickets this key decrypted. */
  decrypted: number;
}

/** Ring counters, also merged into `SessionCache.stats().tickets`. Shared by every context using the ring. */
export interface TicketRingStats {
  /** Tickets issued (encrypted). */
  issued: number;
  /** Tickets under a key of the ring that OpenSSL resumed (counted after its own checks: HMAC, lifetime, session-ID context). */
  resumed: number;
  /** Of `resumed`, tickets under a key that no longer encrypts: a fresh ticket under the current key was issued. */
  renewed: number;
  /** Tickets whose key name is not in the ring (revoked, aged out, foreign): full handshake. */
  unknownKey: number;
  /** Internal failures (cipher/MAC setup, randomness): full handshake or no ticket, never a failed connection. */
  failed: number;
  /** Counters of each key now in the ring, by key id. */
  keys: Record<string, TicketKeyCounters>;
}
