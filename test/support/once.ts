/**
 * A client that uses each ticket once (RFC 8446 C.4, as browsers do): every connection offers
 * only the newest session the previous connection received, and a connection that received none
 * makes the next one a full handshake.
 */
import { type ConnectOptions, connect } from './tls';

/** `count` connections; returns how many resumed (the first never can). */
export async function onceChain(port: number, count: number, o: ConnectOptions = {}): Promise<number> {
  let session: Buffer | undefined;
  let resumed = 0;
  for (let i = 0; i < count; i++) {
    const r = await connect(port, { ...o, session });
    if (r.reused) resumed++;
    session = r.session;
  }
  return resumed;
}
