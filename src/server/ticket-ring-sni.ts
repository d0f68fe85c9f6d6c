/**
 * SNI and the ticket key ring. OpenSSL calls the ticket callback of the connection's initial
 * (session) context, and the callback finds its ring through SSL_get_SSL_CTX(). On Node 20 that
 * is always the server's default context: Node's UseSNIContext() copies the SNI context's
 * certificate, key and chain onto the SSL and never calls SSL_set_SSL_CTX (measured in
 * test/server/ticket-key-ring.test.ts). An SSL_CTX switch by SSL_set_SSL_CTX would make the callback
 * see a context without the ring after the switch (tickets are encrypted at the end of the
 * handshake), so as a defence the same ring is also hung on every context the server may switch
 * to: those in `server._contexts`, those added later with `addContext()`, and those a user
 * SNICallback returns. Internal.
 */
import type * as tls from 'node:tls';

import { native } from '../common/native';
import { followSniContexts } from '../common/sni-contexts';
import type { NodeNativeContext } from '../common/target';
import type { TicketKeyRing } from './ticket-key-ring';

/** Hangs `ring` on the server's SNI contexts now and as they appear; returns the undo function. */
export function hangRingOnSniContexts(server: tls.Server, ring: TicketKeyRing, attached: () => NodeNativeContext): () => void {
  return followSniContexts(server, attached, {
    // false: the context carries another ring (attached elsewhere); it keeps that one.
    hang: (ctx) => native.ringHang(ctx._external, ring._native()),
    unhang: (ctx) => void native.ringHang(ctx._external, null, ring._native()),
  });
}
