#!/usr/bin/env node
/**
 * `npm start`: the default comparison, under a minute. bench:core's three servers (stock Node
 * https, the documented JS session cache, attach() with OpenSSL's internal cache) plus attach()
 * with a native ticket key ring, single process, 2 s phases, self-signed certificate made at run
 * time, loopback only, plus nginx and HAProxy where installed (the ratio of each Node server's CPU
 * per handshake to theirs is printed under the table). The full comparison (cluster, fleet,
 * rotation) is `tls-resumption-tools bench`.
 */
import { main } from './core';
import { gatewayLine } from './gateway';

main(
  ['stock', 'jsCache', 'attach', 'ring'],
  2000,
  'npm start: stock Node https vs JS session cache vs attach() vs attach() + ticket ring (vs nginx and HAProxy when installed), single process, loopback, self-signed ECDSA P-256',
  true,
)
  .then(async (code) => {
    // The outbound side: a short gateway run (the full one is `npm run bench:gateway`).
    process.stdout.write(`\n${await gatewayLine()}\n`);
    return code;
  })
  .then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`npm start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
