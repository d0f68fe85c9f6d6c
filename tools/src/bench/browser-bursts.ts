#!/usr/bin/env node
/**
 * `npm run bench:browser`: browser bursts beside nginx. Headless Chromium (Debian's) loads a page
 * of N images (default 40) from one server that closes every connection (`Connection: close`,
 * nginx `keepalive_timeout 0`), so each image is a new TLS connection, opened six at a time
 * (Chromium's HTTP/1.1 limit per host). Each server is measured with a fresh browser for a few
 * page loads; servers are interleaved round by round (the order rotates) so that the machine's
 * load falls on all of them alike. The servers count what resumed: Node's
 * `isSessionReused()` on every connection, nginx's `$ssl_session_reused` in an access log; each
 * also records every connection's start, handshake end (Node), end and TLS version, and the tool
 * counts each server's tickets per full and per resumed TLS 1.3 handshake with a Node client
 * first, so the timeline shows which starts found Chromium's two ticket slots empty and why.
 *
 *   npm run bench:browser [-- --rounds 3 --pages 3 --images 40 --servers stock,ring,ring-tickets,nginx --timeline t.json]
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { parseArgs } from 'node:util';

import { CHROMIUM_BIN, launchChromium } from '../clients/chromium';
import { attach, type SelfSignedCertificate, selfSignedCertificate, TicketKeyRing } from '../library';
import { anchorAvailable, startAnchor } from './anchors';
import { connectOnce } from './tls13-connect';

export type BurstServerName = 'stock' | 'ring' | 'ring-tickets' | 'nginx';

/** `tickets.tls13CountOnResumption` of the ring-tickets server: Chromium keeps two tickets per host. */
export const BURST_TICKETS_ON_RESUMPTION = 2;

export const BURST_SERVERS: Record<BurstServerName, string> = {
  stock: 'stock Node https',
  ring: 'attach() + ticket ring',
  'ring-tickets': `attach() + ticket ring + tls13CountOnResumption ${BURST_TICKETS_ON_RESUMPTION}`,
  nginx: 'nginx (ssl_session_cache shared, tickets on: its defaults beside the cache)',
};

/** One TLS connection as the server saw it; times in ms (Date.now()). */
export interface BurstConnection {
  start: number;
  /** Handshake done (Node's 'secureConnection'); nginx does not log it. */
  secure?: number;
  end: number;
  version: string;
  resumed: boolean;
}

export interface BurstPage {
  server: BurstServerName;
  round: number;
  /** 0: the browser's first page (the navigation before its images made the first, full, handshake). */
  page: number;
  connections: number;
  resumed: number;
  /** From the first image requested to the last one settled, ms. */
  ms: number;
  /** The image connections of this page, by start. */
  timeline: BurstConnection[];
  /** Of the image connections not resumed: why, by the two-slot replay (`replaySlots`). */
  misses: SlotMisses;
  /**
   * Image connections that offered a session, counted by the server (attach() servers): the
   * others found both of the browser's slots empty.
   */
  offered?: number;
}

interface BurstServer {
  port: number;
  /** Every connection so far, in the order they ended. */
  connections(): Promise<BurstConnection[]>;
  /** Handshakes whose ClientHello offered a session so far (`stats().resumption.offered`; attach() servers only). */
  offered?(): number;
  close(): Promise<void>;
}

/** nginx with its session cache and default tickets, `keepalive_timeout 0`, and an access log of `$ssl_session_reused`. */
async function startNginx(cert: SelfSignedCertificate): Promise<BurstServer> {
  if (!anchorAvailable('nginx')) throw new Error('nginx is not installed (apt-get install nginx)');
  const anchor = await startAnchor(
    'nginx',
    cert,
    (dir) => ['ssl_session_cache shared:SSL:10m', 'ssl_session_timeout 5m', 'keepalive_timeout 0', `access_log ${dir}/reused.log reused`],
    ["log_format reused '$msec $connection_time $ssl_protocol $ssl_session_reused'"],
  );
  const log = path.join(anchor.dir, 'reused.log');
  // The anchor's port probe is a TCP connection without TLS: nginx logs nothing for it.
  return {
    port: anchor.port,
    connections: async () => {
      const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
      return lines.map((l) => {
        const [msec = '0', seconds = '0', version = '', reused = ''] = l.split(' ');
        const end = Math.round(Number(msec) * 1000);
        return { start: end - Math.round(Number(seconds) * 1000), end, version, resumed: reused === 'r' };
      });
    },
    close: () => anchor.close(),
  };
}

// The page names its icon inline, so Chromium opens no /favicon.ico connection beside the images.
const PAGE = '<!doctype html><html><head><link rel="icon" href="data:,"></head><body></body></html>';

/** A Node https server in this process that closes every connection and records each one. */
async function startNodeServer(name: Exclude<BurstServerName, 'nginx'>, cert: SelfSignedCertificate): Promise<BurstServer> {
  const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    res.setHeader('Connection', 'close');
    if (req.url?.startsWith('/page/')) res.setHeader('Content-Type', 'text/html');
    res.end(req.url?.startsWith('/page/') ? PAGE : 'ok\n');
  });
  let cache: ReturnType<typeof attach> | undefined;
  if (name !== 'stock') {
    const tickets = {
      keyRing: TicketKeyRing.generate(),
      ...(name === 'ring-tickets' ? { tls13CountOnResumption: BURST_TICKETS_ON_RESUMPTION } : {}),
    };
    cache = attach(server, { tickets });
  }
  const log: BurstConnection[] = [];
  const accepted = new Map<string, number>();
  server.on('connection', (socket: Socket) => accepted.set(`${socket.remotePort}`, Date.now()));
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const secure = Date.now();
    const key = `${socket.remotePort}`;
    const c: BurstConnection = {
      start: accepted.get(key) ?? secure,
      secure,
      end: secure,
      version: socket.getProtocol() ?? '',
      resumed: socket.isSessionReused(),
    };
    accepted.delete(key);
    socket.once('close', () => {
      c.end = Date.now();
      log.push(c);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: async () => [...log],
    offered: cache ? () => cache!.stats().resumption.offered : undefined,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function startBurstServer(name: BurstServerName, cert: SelfSignedCertificate): Promise<BurstServer> {
  return name === 'nginx' ? startNginx(cert) : startNodeServer(name, cert);
}

/** Tickets a server sends per full and per resumed TLS 1.3 handshake, counted by a Node client ('session' events). */
export interface TicketsPerHandshake {
  full: number;
  resumed: number;
}

export async function countTickets(port: number): Promise<TicketsPerHandshake> {
  const full = await connectOnce(port, undefined);
  const resumed = await connectOnce(port, full.session);
  if (full.reused || !resumed.reused) throw new Error(`bursts: the ticket count on port ${port} did not resume`);
  return { full: full.tickets, resumed: resumed.tickets };
}

/** Why the image connections that did not resume found no ticket, by a replay of Chromium's cache. */
export interface SlotMisses {
  /** Not resumed although the replay had a ticket in a slot (the browser had not stored it yet, or another cause). */
  ticketInSlot: number;
  /** Slots empty, but tickets had arrived that two slots could not keep (Chromium's two-per-host limit). */
  slotLimit: number;
  /** Slots empty and no ticket left: fewer tickets had arrived than connections had started. */
  noTicketYet: number;
}

/**
 * Replays a browser's connections against a ticket cache of `slots` single-use entries (Chromium's
 * SSLClientSessionCache: two per host; a TLS 1.3 session is taken out when used): each
 * connection's tickets count from its end (the server sends them right after the handshake, but
 * the browser takes them in when it reads the response, which ends the connection here), each
 * start takes one. For every connection of `counted` that did not resume, it tells what the
 * cache held at its start, and what an unbounded cache would have held.
 */
export function replaySlots(
  all: readonly BurstConnection[],
  counted: ReadonlySet<BurstConnection>,
  tickets: TicketsPerHandshake,
  slots = 2,
): SlotMisses {
  type Event = { at: number; kind: 0 | 1; c: BurstConnection };
  // At equal times tickets arrive (kind 0) before a start (kind 1).
  const events: Event[] = [];
  for (const c of all) {
    events.push({ at: c.end, kind: 0, c }, { at: c.start, kind: 1, c });
  }
  events.sort((a, b) => a.at - b.at || a.kind - b.kind);
  let held = 0;
  let unbounded = 0;
  const out: SlotMisses = { ticketInSlot: 0, slotLimit: 0, noTicketYet: 0 };
  for (const e of events) {
    const n = e.c.resumed ? tickets.resumed : tickets.full;
    if (e.kind === 0) {
      held = Math.min(slots, held + n);
      unbounded += n;
      continue;
    }
    if (!e.c.resumed && counted.has(e.c)) {
      if (held > 0) out.ticketInSlot++;
      else if (unbounded > 0) out.slotLimit++;
      else out.noTicketYet++;
    }
    if (held > 0 && e.c.resumed) held--;
    if (unbounded > 0 && e.c.resumed) unbounded--;
  }
  return out;
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

export interface BurstRun {
  pages: BurstPage[];
  tickets: Record<string, TicketsPerHandshake>;
}

export async function measureBursts(o: BurstOptions): Promise<BurstRun> {
  if (!fs.existsSync(CHROMIUM_BIN)) throw new Error(`${CHROMIUM_BIN} is missing (apt-get install chromium)`);
  const cert = selfSignedCertificate('localhost');
  const out: BurstPage[] = [];
  const tickets: Record<string, TicketsPerHandshake> = {};
  const servers = new Map<BurstServerName, BurstServer>();
  try {
    for (const name of o.servers) {
      const server = await startBurstServer(name, cert);
      servers.set(name, server);
      tickets[name] = await countTickets(server.port);
    }
    for (let round = 0; round < o.rounds; round++) {
      const order = o.servers.map((_, i) => o.servers[(i + round) % o.servers.length]!);
      for (const name of order) {
        const server = servers.get(name)!;
        const launched = Date.now();
        const browser = await launchChromium();
        try {
          for (let page = 0; page < o.pages; page++) {
            // The page comes from the server itself (a page on about:blank may not load from
            // localhost: Chromium's private network access rules); its connection is not counted.
            await browser.navigate(`https://localhost:${server.port}/page/${round}-${page}`);
            await new Promise((r) => setTimeout(r, 100));
            const t0 = Date.now();
            const offered0 = server.offered?.();
            const ms = await browser.evaluate<number>(burstScript(server.port, `${round}-${page}`, o.images));
            // Connections end after their response: give the server a moment to log the last ones.
            await new Promise((r) => setTimeout(r, 150));
            // This browser's connections (the ticket count's came before it was launched).
            const mine = (await server.connections()).filter((c) => c.start >= launched).sort((a, b) => a.start - b.start);
            const timeline = mine.filter((c) => c.start >= t0);
            const p: BurstPage = {
              server: name,
              round,
              page,
              connections: timeline.length,
              resumed: timeline.filter((c) => c.resumed).length,
              ms,
              timeline,
              misses: replaySlots(mine, new Set(timeline), tickets[name]!),
              ...(offered0 === undefined ? {} : { offered: server.offered!() - offered0 }),
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
  return { pages: out, tickets };
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
  /** Most image connections open at once on any page (Chromium: six per host over HTTP/1.1). */
  mostAtOnce: number;
  medianMs: number;
  /** Misses of every page, by cause (`replaySlots`). */
  misses: SlotMisses;
  /** Image connections that offered nothing (both slots empty) / all, where the server counts offers. */
  offeredNothing?: number;
  tickets?: TicketsPerHandshake;
}

/** Most connections of `timeline` open at the same moment. */
export function mostAtOnce(timeline: readonly BurstConnection[]): number {
  const edges = timeline.flatMap((c) => [
    [c.start, 1],
    [c.end, -1],
  ]);
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d!));
  return most;
}

export function summarize(run: BurstRun, servers: readonly BurstServerName[]): BurstSummary[] {
  const pages = run.pages;
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
      mostAtOnce: Math.max(0, ...mine.map((p) => mostAtOnce(p.timeline))),
      medianMs: median(mine.map((p) => p.ms)),
      misses: {
        slotLimit: sum(mine, (p) => p.misses.slotLimit),
        noTicketYet: sum(mine, (p) => p.misses.noTicketYet),
        ticketInSlot: sum(mine, (p) => p.misses.ticketInSlot),
      },
      tickets: run.tickets[server],
      ...(mine.every((p) => p.offered !== undefined)
        ? {
            offeredNothing:
              sum(mine, (p) => p.connections - p.offered!) /
              Math.max(
                1,
                sum(mine, (p) => p.connections),
              ),
          }
        : {}),
    };
  });
}

export function summaryTable(rows: readonly BurstSummary[], images: number): string {
  const lines = [
    `| server | TLS 1.3 tickets per full / resumed handshake | resumed, all pages | resumed, first page | resumed, later pages | offered nothing (both slots empty) | full handshakes by the replay: slot limit / no ticket yet / ticket in slot | connections per page (${images} images) | most at once | median page ms |`,
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const t = r.tickets ? `${r.tickets.full} / ${r.tickets.resumed}` : '';
    const m = `${r.misses.slotLimit} / ${r.misses.noTicketYet} / ${r.misses.ticketInSlot}`;
    lines.push(
      `| ${BURST_SERVERS[r.server]} | ${t} | ${r.ratio.toFixed(2)} | ${r.coldRatio.toFixed(2)} | ${r.warmRatio.toFixed(2)} | ${r.offeredNothing === undefined ? 'not counted' : r.offeredNothing.toFixed(2)} | ${m} | ${r.connectionsPerPage} | ${r.mostAtOnce} | ${r.medianMs.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      pages: { type: 'string' },
      images: { type: 'string' },
      servers: { type: 'string' },
      timeline: { type: 'string' },
    },
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
  const run = await measureBursts({
    servers,
    rounds,
    pages,
    images,
    onPage: (p) =>
      process.stderr.write(
        `round ${p.round} ${p.server} page ${p.page}: ${p.resumed}/${p.connections} resumed, ${p.ms.toFixed(0)} ms, full: ${p.misses.slotLimit} slot limit, ${p.misses.noTicketYet} no ticket yet, ${p.misses.ticketInSlot} ticket in slot\n`,
      ),
  });
  if (values.timeline) fs.writeFileSync(values.timeline, `${JSON.stringify(run, null, 1)}\n`);
  process.stdout.write(`${summaryTable(summarize(run, servers), images)}\n`);
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
