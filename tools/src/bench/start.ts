#!/usr/bin/env node
/**
 * `npm start`: the default comparison, under a minute. bench:core's three servers (stock Node
 * https, the documented JS session cache, attach() with OpenSSL's internal cache) plus attach()
 * with a native ticket key ring, single process, 2 s phases, self-signed certificate made at run
 * time, loopback only. The full comparison (cluster, fleet, rotation, anchors) is
 * `tls-resumption-tools bench`.
 */
import { main } from './core';

main(
  ['stock', 'jsCache', 'attach', 'ring'],
  2000,
  'npm start: stock Node https vs JS session cache vs attach() vs attach() + ticket ring, single process, loopback, self-signed ECDSA P-256',
).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`npm start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
