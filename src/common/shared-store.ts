/**
 * The `shared` option group: one session store for every process on the machine that attaches
 * with the same name (a memory-mapped file under /dev/shm) or path (a persistent file). Validates
 * the options, opens the store natively, re-installs the session callbacks on every connection
 * (Node resets them per connection, docs/internals.md#session-callbacks) and reports the store's counters.
 */
import * as fs from 'node:fs';
import type * as tls from 'node:tls';

import { type NativeAttachment, native } from './native';
import type { SharedStoreStats } from './stats';

export type { SharedStoreStats } from './stats';

import { checkKeys, codeErrorsOf, ErrorCodes, expectKind, expectRange, mustBe, rangeError, typeError, withCode } from './validate';

/** Where the store lives and how big it is. Give exactly one of `name` or `path`. */
export interface SharedOptions {
  /**
   * Store name, 1 to 64 of `A-Z a-z 0-9 _ . -`. Every process attaching with this name (same
   * user) shares one store: the file `/dev/shm/tls-resumption-<uid>/<name>`, in a directory of
   * that user's that is created 0700 and refused if another user owns it or can enter it. It
   * lives until removed or the machine reboots.
   */
  name?: string;
  /** Absolute path of a store file instead of a name: a persistent store that survives a restart of every worker. The file must be this user's, mode 0600; its directory is the caller's choice. */
  path?: string;
  /** Size of the store file in bytes, fixed at creation and reserved on the filesystem then (attach throws, naming the free space, when it does not fit). Default: 16777216 (16 MiB, about 41,400 sessions at the default slotBytes). Range: 65536 (64 KiB) to 17179869184 (16 GiB). */
  sizeBytes?: number;
  /** Bytes per slot (96-byte slot header + the DER session). Larger sessions are counted in `tooLarge`, not stored. Default: 384 (sessions up to 288 bytes; a server session without a client certificate is about 110-170 bytes). Range: 256 to 65536 bytes, a multiple of 64. */
  slotBytes?: number;
}

/** `shared` after validation and defaults. */
export interface ResolvedSharedOptions {
  name: string | undefined;
  path: string;
  sizeBytes: number;
  slotBytes: number;
}

export const SharedLimits = Object.freeze({
  minSizeBytes: 65536,
  maxSizeBytes: 16 * 1024 * 1024 * 1024,
  defaultSizeBytes: 16 * 1024 * 1024,
  minSlotBytes: 256,
  maxSlotBytes: 65536,
  defaultSlotBytes: 384,
});

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The private directory (0700) that holds this user's named stores. */
export function sharedStoreDir(): string {
  return `/dev/shm/tls-resumption-${process.geteuid?.() ?? 0}`;
}

/** The file a named store lives in. */
export function sharedStorePath(name: string): string {
  return `${sharedStoreDir()}/${name}`;
}

/** A store name, checked: TypeError / RangeError naming `field`. */
function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string') throw typeError(field, 'a string', value);
  if (!NAME.test(value)) throw rangeError(field, '1 to 64 characters of A-Z a-z 0-9 _ . -', JSON.stringify(value));
  return value;
}

/** A named store on this machine, as `listSharedStores()` finds it. */
export interface SharedStoreInfo {
  /** The `shared.name` it was created with. */
  name: string;
  /** Its file: `/dev/shm/tls-resumption-<uid>/<name>`. */
  path: string;
  /** File size, bytes (`shared.sizeBytes`). */
  sizeBytes: number;
  /** Bytes per slot (`shared.slotBytes`). */
  slotBytes: number;
  /** Sessions it can hold. */
  capacity: number;
  /** The file's layout version (stores of another layout than this package's are refused at attach: remove them). */
  layoutVersion: number;
  /** Whether some process has it attached now. */
  inUse: boolean;
}

/**
 * This user's named stores (`shared.name`), sorted by name. A named store is never removed by the
 * library: it stays until `removeSharedStore()` (or `tls-resumption stores remove`) or a reboot.
 */
export function listSharedStores(): SharedStoreInfo[] {
  const dir = sharedStoreDir();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: SharedStoreInfo[] = [];
  for (const name of names.filter((n) => NAME.test(n)).sort()) {
    const path = sharedStorePath(name);
    let facts: ReturnType<typeof native.sharedInspect>;
    try {
      facts = native.sharedInspect(path);
    } catch {
      continue; // removed meanwhile
    }
    if (!facts.isStore) continue;
    const { layoutVersion, totalBytes, slotBytes, capacity, inUse } = facts;
    out.push({ name, path, sizeBytes: totalBytes, slotBytes, capacity, layoutVersion, inUse });
  }
  return out;
}

/** Options of `removeSharedStore()`. */
export interface RemoveSharedStoreOptions {
  /** Remove it even while a process has it attached (those processes keep the removed file; processes that attach later start a new, empty store). Default: false. */
  force?: boolean;
}

/**
 * Removes a named store's file (its sessions, and the ticket keys of generate() rings in it).
 * @returns false when there is no store of that name.
 * @throws TypeError / RangeError for a bad name or option; an Error with code
 *   `ERR_TLS_RESUMPTION_STORE_IN_USE` when a process has it attached (unless `force`), or
 *   `ERR_TLS_RESUMPTION_NOT_A_STORE` when the file is not a store.
 */
export function removeSharedStore(name: string, options: RemoveSharedStoreOptions = {}): boolean {
  checkName('name', name);
  expectKind('options', options, 'object');
  checkKeys('options', options as Record<string, unknown>, ['force']);
  const force = options.force ?? false;
  expectKind('force', force, 'boolean');
  const path = sharedStorePath(name);
  if (!fs.existsSync(path)) return false;
  const facts = native.sharedInspect(path);
  if (!facts.isStore) {
    throw withCode(new Error(`${path} is not a tls-resumption store of this user's; not removed.`), ErrorCodes.notAStore);
  }
  if (facts.inUse && !force) {
    throw withCode(
      new Error(
        `The shared store "${name}" (${path}) is attached by a running process; detach it there first, or pass { force: true } (processes attached keep the removed file, later ones start a new store).`,
      ),
      ErrorCodes.storeInUse,
    );
  }
  fs.unlinkSync(path);
  return true;
}

/** Validates `shared` (TypeError / RangeError naming the field); undefined when absent. */
export function resolveShared(value: unknown): ResolvedSharedOptions | undefined {
  if (value === undefined) return undefined;
  expectKind('shared', value, 'object');
  const o = value as Record<string, unknown>;
  checkKeys('shared', o, ['name', 'path', 'sizeBytes', 'slotBytes']);
  if ((o.name === undefined) === (o.path === undefined)) {
    throw withCode(
      new TypeError(
        mustBe('shared', 'an object with exactly one of "shared.name" or "shared.path"', o.name === undefined ? 'neither' : 'both'),
      ),
      ErrorCodes.invalidValue,
    );
  }
  let name: string | undefined;
  let file: string;
  if (o.name !== undefined) {
    name = checkName('shared.name', o.name);
    file = sharedStorePath(name);
  } else {
    if (typeof o.path !== 'string') throw typeError('shared.path', 'a string', o.path);
    if (!o.path.startsWith('/') || o.path.includes('\0') || o.path.length > 4096) {
      throw rangeError('shared.path', 'an absolute file path (at most 4096 characters)', JSON.stringify(o.path));
    }
    file = o.path;
  }
  let sizeBytes: number = SharedLimits.defaultSizeBytes;
  if (o.sizeBytes !== undefined) {
    expectKind('shared.sizeBytes', o.sizeBytes, 'integer');
    expectRange('shared.sizeBytes', o.sizeBytes as number, SharedLimits.minSizeBytes, SharedLimits.maxSizeBytes, 'bytes');
    sizeBytes = o.sizeBytes as number;
  }
  let slotBytes: number = SharedLimits.defaultSlotBytes;
  if (o.slotBytes !== undefined) {
    expectKind('shared.slotBytes', o.slotBytes, 'integer');
    expectRange('shared.slotBytes', o.slotBytes as number, SharedLimits.minSlotBytes, SharedLimits.maxSlotBytes, 'bytes');
    if ((o.slotBytes as number) % 64 !== 0) {
      throw rangeError('shared.slotBytes', 'a multiple of 64 bytes', `${o.slotBytes as number}`);
    }
    slotBytes = o.slotBytes as number;
  }
  return { name, path: file, sizeBytes, slotBytes };
}

export function sameShared(a: ResolvedSharedOptions | undefined, b: ResolvedSharedOptions | undefined): boolean {
  if (!a || !b) return a === b;
  return a.path === b.path && a.sizeBytes === b.sizeBytes && a.slotBytes === b.slotBytes;
}

/**
 * Opens a store file through the addon. Its refusals (another size or layout, not a store, owned
 * by another user, a mode other than 0600, no room) get ERR_TLS_RESUMPTION_STORE_REFUSED; the
 * message names the file and what did not match.
 */
export function openStoreFile<T>(open: () => T): T {
  return codeErrorsOf(ErrorCodes.storeRefused, open);
}

/** The live link between one attachment and its store. */
export class SharedHook {
  readonly options: ResolvedSharedOptions;
  #server: tls.Server;
  #handle: NativeAttachment;
  #onConnection: () => void;

  /** Opens the store and hooks the context; throws (and leaves nothing hooked) on a header mismatch. */
  constructor(server: tls.Server, handle: NativeAttachment, options: ResolvedSharedOptions) {
    this.options = options;
    this.#server = server;
    this.#handle = handle;
    openStoreFile(() => native.sharedAttach(handle, options.path, options.sizeBytes, options.slotBytes, options.name !== undefined));
    // Runs after Node's own 'connection' listener built the TLSSocket (which reset the session
    // callbacks) and before any handshake byte is read.
    this.#onConnection = () => native.sharedRehook(this.#handle);
    server.on('connection', this.#onConnection);
  }

  /** setSecureContext swapped the context: hook the new one (the old one is being detached). */
  moveTo(handle: NativeAttachment): void {
    const o = this.options;
    openStoreFile(() => native.sharedAttach(handle, o.path, o.sizeBytes, o.slotBytes, o.name !== undefined));
    this.#handle = handle;
  }

  stats(): SharedStoreStats {
    return { path: this.options.path, ...native.sharedStats(this.#handle) };
  }

  /** Maps the store file again if it was truncated under this process; null when it was not. */
  reopenIfLost(): { reopened: boolean; error?: string } | null {
    return native.sharedReopenIfLost(this.#handle);
  }

  /** Expired entries, or every entry of the store (all processes) with `all`. */
  flush(all: boolean): number {
    return native.sharedFlush(this.#handle, all);
  }

  detach(): void {
    this.#server.off('connection', this.#onConnection);
    native.sharedDetach(this.#handle);
  }
}
