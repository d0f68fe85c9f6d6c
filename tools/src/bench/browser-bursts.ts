#!/usr/bin/env node
/**
 * `npm run bench:browser`: browser bursts beside nginx. Headless Chromium (Debian's) loads a page
 * of N images (default 40) from one server that closes every connection (`Connection: close`,
 * nginx `keepalive_timeout 0`), so each image is a new TLS connection, opened six at a time
 * (Chromium's HTTP/1.1 limit per host). Each server is measured with a fresh browser for a few
 * page loads; servers are interleaved round by round (the order rotates) so that the machine's
 * load falls on all of them alike. The servers count what resumed: Node's
 * `isSessionReused()` on every connection, nginx's `$ssl_session_reused` in an access log.
 *
 *   npm run bench:browser [-- --rounds 3 --pages 3 --images 40]
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { CHROMIUM_BIN, launchChromium } from '../clients/chromium';
import { type SelfSignedCertificate, selfSignedCertificate } from '../library';
import { anchorAvailable, startAnchor } from './anchors';
import { startServer } from './harness';

export type BurstServerName = 'stock' | 'ring' | 'nginx';

export const BURST_SERVERS: Record<BurstServerName, string> = {
  stock: 'stock Node https',
  ring: 'attach() + ticket ring',
  nginx: 'nginx (ssl_session_cache shared, tickets on: its defaults beside the cache)',
};

export interface BurstPage {
  server: BurstServerName;
  round: number;
  /** 0: the browser's first page (the navigation before its images made the first, full, handshake). */
  page: number;
  connections: number;
  resumed: number;
  /** From the first image requested to the last one settled, ms. */
  ms: number;
}

interface BurstServer {
  port: number;
  /** Connections and resumed connections so far. */
  counts(): Promise<{ handshakes: number; resumed: number }>;
  close(): Promise<void>;
}

/** nginx with its session cache and default tickets, `keepalive_timeout 0`, and an access log of `$ssl_session_reused`. */
async function startNginx(cert: SelfSignedCertificate): Promise<BurstServer> {
  if (!anchorAvailable('nginx')) throw new Error('nginx is not installed (apt-get install nginx)');
  const anchor = await startAnchor(
    'nginx',
    cert,
    (dir) => ['ssl_session_cache shared:SSL:10m', 'ssl_session_timeout 5m', 'keepalive_timeout 0', `access_log ${dir}/reused.log reused`],
    ["log_format reused '$ssl_session_reused'"],
  );
  const log = path.join(anchor.dir, 'reused.log');
  // The anchor's port probe is a TCP connection without TLS: nginx logs nothing for it.
  return {
    port: anchor.port,
    counts: async () => {
      const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
      return { handshakes: lines.length, resumed: lines.filter((l) => l === 'r').length };
    },
    close: () => anchor.close(),
  };
}

async function startBurstServer(name: BurstServerName, cert: SelfSignedCertificate): Promise<BurstServer> {
  if (name === 'nginx') return startNginx(cert);
  const ctx = { runTag: `bursts-${process.pid}`, secretHex: crypto.randomBytes(32).toString('hex') };
  const s = await startServer(name, 0, cert, ctx, 1, { closeConnections: true });
  return {
    port: s.port,
    counts: async () => {
      const c = await s.counts();
      if (!c) throw new Error('bursts: the server reported no counts');
      return c;
    },
    close: () => s.close(),
  };
}

/** The page's script: `images` images at once, resolved when every one has loaded or failed. */
function burstScript(port: number, tag: string, images: number): string {
  return `(async () => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: ${images} }, (_, i) => new Promise((resolve) => {
      const img = new Image();
      img.onload = img.onerror = resolve;
      img.src = 'https://localhost:${port}/img/${tag}/' + i + '.png';
      document.body.appendChild(img);
    })));
    return performance.now() - t0;
  })()`;
}

export interface BurstOptions {
  servers: readonly BurstServerName[];
  rounds: number;
  /** Page loads per browser (the first from a fresh browser). */
  pages: number;
  images: number;
  onPage?(p: BurstPage): void;
}

export async function measureBursts(o: BurstOptions): Promise<BurstPage[]> {
  if (!fs.existsSync(CHROMIUM_BIN)) throw new Error(`${CHROMIUM_BIN} is missing (apt-get install chromium)`);
  const cert = selfSignedCertificate('localhost');
  const out: BurstPage[] = [];
  const servers = new Map<BurstServerName, BurstServer>();
  try {
    for (const name of o.servers) servers.set(name, await startBurstServer(name, cert));
    for (let round = 0; round < o.rounds; round++) {
      const order = o.servers.map((_, i) => o.servers[(i + round) % o.servers.length]!);
      for (const name of order) {
        const server = servers.get(name)!;
        const browser = await launchChromium();
        try {
          for (let page = 0; page < o.pages; page++) {
            // The page comes from the server itself (a page on about:blank may not load from
            // localhost: Chromium's private network access rules); its connection is not counted.
            await browser.navigate(`https://localhost:${server.port}/page/${round}-${page}`);
            await new Promise((r) => setTimeout(r, 100));
            const before = await server.counts();
            const ms = await browser.evaluate<number>(burstScript(server.port, `${round}-${page}`, o.images));
            // Connections end after their response: give the server a moment to count the last ones.
            await new Promise((r) => setTimeout(r, 100));
            const after = await server.counts();
            const p: BurstPage = {
              server: name,
              round,
              page,
              connections: after.handshakes - before.handshakes,
              resumed: after.resumed - before.resumed,
              ms,
            };
            out.push(p);
            o.onPage?.(p);
          }
        } finally {
          await browser.close();
        }
      }
    }
  } finally {
    for (const s of servers.values()) await s.close();
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export interface BurstSummary {
  server: BurstServerName;
  /** Every page: resumed / connections. */
  ratio: number;
  /** Pages after a browser's first: resumed / connections over all of them. */
  warmRatio: number;
  /** The images of the browser's first page: resumed / connections. */
  coldRatio: number;
  connectionsPerPage: number;
  medianMs: number;
}

export function summarize(pages: readonly BurstPage[], servers: readonly BurstServerName[]): BurstSummary[] {
  return servers.map((server) => {
    const mine = pages.filter((p) => p.server === server);
    const cold = mine.filter((p) => p.page === 0);
    const warm = mine.filter((p) => p.page > 0);
    const sum = (xs: BurstPage[], f: (p: BurstPage) => number) => xs.reduce((a, p) => a + f(p), 0);
    return {
      server,
      ratio:
        sum(mine, (p) => p.resumed) /
        Math.max(
          1,
          sum(mine, (p) => p.connections),
        ),
      warmRatio:
        sum(warm, (p) => p.resumed) /
        Math.max(
          1,
          sum(warm, (p) => p.connections),
        ),
      coldRatio:
        sum(cold, (p) => p.resumed) /
        Math.max(
          1,
          sum(cold, (p) => p.connections),
        ),
      connectionsPerPage: median(mine.map((p) => p.connections)),
      medianMs: median(mine.map((p) => p.ms)),
    };
  });
}

export function summaryTable(rows: readonly BurstSummary[], images: number): string {
  const lines = [
    `| server | resumed, first page | resumed, later pages | connections per page (${images} images) | median page ms |`,
    '|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${BURST_SERVERS[r.server]} | ${r.coldRatio.toFixed(2)} | ${r.warmRatio.toFixed(2)} | ${r.connectionsPerPage} | ${r.medianMs.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { rounds: { type: 'string' }, pages: { type: 'string' }, images: { type: 'string' }, servers: { type: 'string' } },
  });
  const int = (flag: string, raw: string | undefined, dflt: number, max: number) => {
    const n = raw === undefined ? dflt : Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new RangeError(`--${flag} must be an integer from 1 to ${max}, got ${raw}.`);
    return n;
  };
  const rounds = int('rounds', values.rounds, 3, 100);
  const pages = int('pages', values.pages, 3, 100);
  const images = int('images', values.images, 40, 1000);
  const known = Object.keys(BURST_SERVERS) as BurstServerName[];
  const servers = (values.servers?.split(',') ?? known) as BurstServerName[];
  for (const s of servers) if (!known.includes(s)) throw new RangeError(`--servers: unknown "${s}" (known: ${known.join(', ')}).`);
  const pagesOut = await measureBursts({
    servers,
    rounds,
    pages,
    images,
    onPage: (p) =>
      process.stderr.write(`round ${p.round} ${p.server} page ${p.page}: ${p.resumed}/${p.connections} resumed, ${p.ms.toFixed(0)} ms\n`),
  });
  process.stdout.write(`${summaryTable(summarize(pagesOut, servers), images)}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`bench:browser: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
