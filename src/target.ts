/**
 * Resolves what `attach()` was given to the SecureContext whose SSL_CTX we configure:
 * a tls.Server (https.Server and http2 secure servers are tls.Server subclasses) or a
 * tls.SecureContext. Internal.
 */
import * as tls from 'node:tls';

import { typeError } from './validate';

/** Node's native SecureContext wrapper: `secureContext.context`, holding `_external`. */
export interface NodeNativeContext {
  _external: unknown;
}

/** The shape of a tls.SecureContext as Node builds it. */
export interface NodeSecureContext {
  context: NodeNativeContext;
}

export type AttachTarget = tls.Server | tls.SecureContext;

function isSecureContext(value: unknown): value is NodeSecureContext {
  if (typeof value !== 'object' || value === null) return false;
  const inner = (value as { context?: unknown }).context;
  return typeof inner === 'object' && inner !== null && '_external' in inner && inner.constructor?.name === 'SecureContext';
}

/** The server's current default context (the one setSecureContext replaces). */
export function serverContext(server: tls.Server): NodeSecureContext {
  const creds = (server as unknown as { _sharedCreds?: unknown })._sharedCreds;
  if (!isSecureContext(creds)) {
    throw new TypeError('"target" has no secure context: a tls.Server built by tls.createServer, https.createServer or http2.createSecureServer has one.');
  }
  return creds;
}

export function resolveTarget(target: unknown): { server?: tls.Server; context: NodeSecureContext } {
  if (target instanceof tls.Server) return { server: target, context: serverContext(target) };
  if (isSecureContext(target)) return { context: target };
  throw typeError('target', 'a tls.Server, https.Server, http2 secure server or tls.SecureContext', target);
}
