/**
 * Resolves what `attach()` was given to the SecureContext whose SSL_CTX we configure:
 * a tls.Server (https.Server and http2 secure servers are tls.Server subclasses) or a
 * tls.SecureContext. Internal.
 */
import * as tls from 'node:tls';

import { ErrorCodes, typeError, withCode } from './validate';

/** Node's native SecureContext wrapper: `secureContext.context`, holding `_external`. */
export interface NodeNativeContext {
  _external: unknown;
}

/** The shape of a tls.SecureContext as Node builds it. */
export interface NodeSecureContext {
  context: NodeNativeContext;
}

export type AttachTarget = tls.Server | tls.SecureContext;

/**
 * Node's own `_external` getter, taken from a real SecureContext's prototype. V8 checks its
 * receiver (a signature): called on anything that is not one of Node's native SecureContext
 * objects it throws, so an object that merely looks like one (own `_external`, a class named
 * SecureContext, a borrowed prototype) never hands the addon a foreign External to read as an
 * SSL_CTX*.
 */
const nodeExternalGetter: ((this: unknown) => unknown) | undefined = (() => {
  for (let p: object | null = Object.getPrototypeOf(tls.createSecureContext().context); p; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, '_external');
    if (d?.get) return d.get as (this: unknown) => unknown;
  }
  return undefined;
})();

/** The SSL_CTX External of a native SecureContext, read through Node's getter; undefined for anything else. */
function nodeExternal(inner: unknown): unknown {
  if (typeof inner !== 'object' || inner === null || !nodeExternalGetter) return undefined;
  try {
    return nodeExternalGetter.call(inner);
  } catch {
    return undefined;
  }
}

function isSecureContext(value: unknown): value is NodeSecureContext {
  if (typeof value !== 'object' || value === null) return false;
  return nodeExternal((value as { context?: unknown }).context) !== undefined;
}

/** The External the addon takes for `ctx` (a context resolveTarget or serverContext returned). */
export function externalOf(ctx: NodeSecureContext): unknown {
  return nodeExternal(ctx.context);
}

/** The server's current default context (the one setSecureContext replaces). */
export function serverContext(server: tls.Server): NodeSecureContext {
  const creds = (server as unknown as { _sharedCreds?: unknown })._sharedCreds;
  if (!isSecureContext(creds)) {
    throw withCode(
      new TypeError(
        '"target" has no secure context: a tls.Server built by tls.createServer, https.createServer or http2.createSecureServer has one.',
      ),
      ErrorCodes.invalidType,
    );
  }
  return creds;
}

export function resolveTarget(target: unknown): { server?: tls.Server; context: NodeSecureContext } {
  if (target instanceof tls.Server) return { server: target, context: serverContext(target) };
  if (isSecureContext(target)) return { context: target };
  throw typeError('target', 'a tls.Server, https.Server, http2 secure server or tls.SecureContext', target);
}
