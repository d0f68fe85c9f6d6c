/**
 * Following a server's SNI contexts: the contexts in `server._contexts`, those added later with
 * `addContext()`, and those a user SNICallback returns. The ticket key ring (server/) and the
 * session-ID context (common/) both hang their setting on every context a server may switch to.
 * Internal.
 */
import type * as tls from 'node:tls';

import type { NodeNativeContext } from './target';

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;

interface ServerInternals {
  _contexts?: Array<[RegExp, unknown]>;
}

function nativeContextOf(value: unknown): NodeNativeContext | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const inner = (value as { context?: unknown }).context ?? value;
  if (typeof inner === 'object' && inner !== null && '_external' in inner) return inner as NodeNativeContext;
  return undefined;
}

/** What a follower does with each SNI context: `hang` returns false to leave that context alone. */
export interface SniHook {
  hang(ctx: NodeNativeContext): boolean;
  unhang(ctx: NodeNativeContext): void;
}

/**
 * Calls `hook.hang` on the server's SNI contexts now and as they appear; returns the undo function
 * (unhangs them and removes the wrappers it installed, if nobody replaced them since; a wrapper
 * that another follower wrapped over stays in place but does nothing more).
 * `attached()` is the server's current default context, which the caller handles itself.
 */
export function followSniContexts(server: tls.Server, attached: () => NodeNativeContext, hook: SniHook): () => void {
  const hung = new Set<NodeNativeContext>();
  let following = true;
  const hang = (value: unknown): void => {
    const ctx = nativeContextOf(value);
    if (!following || !ctx || hung.has(ctx) || ctx === attached()) return;
    if (hook.hang(ctx)) hung.add(ctx);
  };
  const internals = server as unknown as ServerInternals;
  const hangAll = (): void => {
    for (const entry of internals._contexts ?? []) hang(entry[1]);
  };
  hangAll();

  const originalAdd = server.addContext;
  const wrappedAdd = function (this: tls.Server, hostname: string, context: tls.SecureContextOptions | tls.SecureContext): void {
    originalAdd.call(this, hostname, context as tls.SecureContextOptions);
    hangAll();
  };
  server.addContext = wrappedAdd;

  // Node keeps a user SNICallback under a private symbol; its default callback (undefined here)
  // only serves `_contexts`, covered above. Wrapping only a user's callback keeps Node from
  // enabling its cert callback on servers that have no SNI at all.
  const symbol = Object.getOwnPropertySymbols(server).find((s) => s.description === 'snicallback');
  const slots = server as unknown as Record<symbol, unknown>;
  const userCallback = symbol ? slots[symbol] : undefined;
  let wrappedSni: SniCallback | undefined;
  if (symbol && typeof userCallback === 'function') {
    const user = userCallback as SniCallback;
    wrappedSni = function (this: unknown, servername, cb) {
      return user.call(this, servername, (err, ctx) => {
        if (!err && ctx) {
          try {
            hang(ctx);
          } catch {
            // Not a context we can reach: it keeps its own settings.
          }
        }
        cb(err, ctx);
      });
    };
    slots[symbol] = wrappedSni;
  }

  return () => {
    following = false;
    if (server.addContext === wrappedAdd) server.addContext = originalAdd;
    if (symbol && wrappedSni && slots[symbol] === wrappedSni) slots[symbol] = userCallback;
    for (const ctx of hung) hook.unhang(ctx);
    hung.clear();
  };
}
