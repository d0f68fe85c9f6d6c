#!/usr/bin/env node
/**
 * `npm start`: the default comparison, under a minute. bench:core's three servers (stock Node
 * https, the documented JS session cache, attach() with OpenSSL's internal cache) plus attach()
 * with a native ticket key ring, single process, 2 s phases, self-signed certificate made at run
 * time, loopback only, plus nginx and HAProxy where installed (the ratio of each Node server's CPU
 * per handshake to theirs is printed under the table), then one line of browser bursts
 * (browser-bursts.ts: Chromium, attach() + ring with and without tls13CountOnResumption beside nginx, about 20 s) when both are
 * installed. The full comparison (cluster, fleet, rotation) is `tls-resumption-tools bench`.
 */
import * as fs from 'node:fs';

import { CHROMIUM_BIN } from '../clients/chromium';
import { anchorAvailable } from './anchors';
import { BURST_SERVERS, type BurstServerName, measureBursts, summarize } from './browser-bursts';
import { main } from './core';
import { gatewayLine } from './gateway';

/** One line: the share of a 40-image page's connections Chromium resumed, attach() + ring beside nginx. */
async function browserBurstLine(): Promise<string> {
  if (!fs.existsSync(CHROMIUM_BIN) || !anchorAvailable('nginx')) return 'browser burst: skipped (needs chromium and nginx installed)';
  const servers: BurstServerName[] = ['ring', 'ring-tickets', 'nginx'];
  const rows = summarize(await measureBursts({ servers, rounds: 1, pages: 2, images: 40 }), servers);
  const cell = (r: (typeof rows)[number]) =>
    `${BURST_SERVERS[r.server].split(' (')[0]} ${(100 * r.ratio).toFixed(0)}% resumed, ${r.medianMs.toFixed(0)} ms`;
  return `browser burst (headless Chromium, a page of 40 images, Connection: close, 2 pages; npm run bench:browser for more): ${rows.map(cell).join(' | ')}`;
}

main(
  ['stock', 'jsCache', 'attach', 'ring'],
  2000,
  'npm start: stock Node https vs JS session cache vs attach() vs attach() + ticket ring (vs nginx and HAProxy when installed), single process, loopback, self-signed ECDSA P-256',
  true,
)
  .then(async (code) => {
    // The outbound side: a short gateway run (the full one is `npm run bench:gateway`).
    process.stdout.write(`\n${await gatewayLine()}\n`);
    process.stdout.write(`${await browserBurstLine()}\n`);
    return code;
  })
  .then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`npm start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
