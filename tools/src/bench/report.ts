/**
 * Renders a run: terminal table, Markdown table, and a progress bar on stderr.
 */
import type { BenchResult, Progress, VariantResult } from './measure';
import { SCENARIOS } from './scenarios';

const fmtInt = (v: number | null): string => (v === null ? 'n/a' : Math.round(v).toLocaleString('en-US'));
const fmtRatio = (v: number | null): string => (v === null ? '' : ` (${v.toFixed(2)}x)`);
const fmtPct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);

/** Column headings and cells; each figure followed by its ratio against stock. */
function rows(results: VariantResult[]): { head: string[]; body: string[][] } {
  const head = ['scenario', 'server', 'resumed (mix)', 'resumed (once 1.3)', 'handshakes/s (mix)', 'p50 / p99 ms', 'CPU µs full', 'CPU µs resumed 1.2', 'CPU µs resumed 1.3'];
  const body = results.map((r) => {
    if (r.skipped) return [SCENARIOS[r.scenario].label, r.label, `skipped: ${r.skipped}`, '', '', '', '', '', ''];
    const lat = r.latencyMicros ? `${(r.latencyMicros.p50 / 1000).toFixed(1)} / ${(r.latencyMicros.p99 / 1000).toFixed(1)}` : 'n/a';
    const stock = r.variant === 'stock';
    const rel = (v: number | null) => (stock ? '' : fmtRatio(v));
    return [
      SCENARIOS[r.scenario].label,
      r.label,
      fmtPct(r.resumptionRatio) + rel(r.vsStock.resumptionRatio),
      r.onceTls13ResumptionRatio === null ? '' : fmtPct(r.onceTls13ResumptionRatio) + rel(r.vsStock.onceTls13ResumptionRatio),
      fmtInt(r.handshakesPerSecond) + rel(r.vsStock.handshakesPerSecond),
      lat,
      fmtInt(r.cpuFullMicros) + rel(r.vsStock.cpuFull),
      fmtInt(r.cpuResumedTls12Micros) + rel(r.vsStock.cpuResumedTls12),
      fmtInt(r.cpuResumedTls13Micros) + rel(r.vsStock.cpuResumedTls13),
    ];
  });
  return { head, body };
}

function rotationLines(run: BenchResult): string[] {
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  return run.results
    .filter((r) => r.phases.mix?.rotation)
    .map((r) => {
      const m = r.phases.mix!;
      return `rotation at ${(m.rotatedAtMs! / 1000).toFixed(1)} s, ${r.label}: resumed ${pct(m.rotation!.resumedBefore)} before, ${pct(m.rotation!.resumedAfter)} after (${Math.round(run.options.clients * ((SCENARIOS[r.scenario] as { clientsScale?: number }).clientsScale ?? 1))} clients).`;
    });
}

/** Redis is a service of its own in a fleet: its CPU is shown beside, not inside, the servers'. */
function redisLines(run: BenchResult): string[] {
  return run.results
    .filter((r) => r.phases.mix?.redisCpuMicros !== undefined && r.phases.mix.load.handshakes > 0)
    .map((r) => {
      const m = r.phases.mix!;
      return `${SCENARIOS[r.scenario].label}, ${r.label}: redis-server CPU ${Math.round(m.redisCpuMicros! / m.load.handshakes)} µs per handshake in mix (not included in the server CPU).`;
    });
}

/** Each Node server's CPU per handshake as a ratio to nginx's and HAProxy's, when they ran in its scenario. */
function anchorLines(run: BenchResult): string[] {
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);
  const out: string[] = [];
  for (const anchor of run.results.filter((r) => (r.variant === 'nginx' || r.variant === 'haproxy') && !r.skipped)) {
    for (const r of run.results.filter((x) => x.scenario === anchor.scenario && x.variant !== 'nginx' && x.variant !== 'haproxy' && !x.skipped)) {
      out.push(
        `${SCENARIOS[r.scenario].label}, ${r.label} vs ${anchor.label}: CPU full ${ratio(r.cpuFullMicros, anchor.cpuFullMicros)}, ` +
          `resumed 1.2 ${ratio(r.cpuResumedTls12Micros, anchor.cpuResumedTls12Micros)}, resumed 1.3 ${ratio(r.cpuResumedTls13Micros, anchor.cpuResumedTls13Micros)}.`,
      );
    }
  }
  return out;
}

function footer(run: BenchResult): string[] {
  const o = run.options;
  const kinds = Object.entries(o.kinds).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(',');
  return [
    `${run.node}, OpenSSL ${run.openssl}, ${run.cpus} CPUs; ${o.clients} clients, concurrency ${o.concurrency}${o.rate ? `, rate ${o.rate}/s` : ''}, ${o.durationMs / 1000} s per phase; mix: ${kinds}, TLS 1.3 share ${o.tls13}; ${(run.elapsedMs / 1000).toFixed(1)} s total.`,
    '(x) = ratio to stock Node in the same scenario. CPU = server user+system time from /proc over all its processes, per handshake.',
    ...anchorLines(run),
    ...rotationLines(run),
    ...redisLines(run),
    ...run.notes,
  ];
}

/** A plain-text table for the terminal. */
export function textTable(run: BenchResult): string {
  const { head, body } = rows(run.results);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), '', ...footer(run)].join('\n') + '\n';
}

/** The same table as GitHub Markdown. */
export function markdownTable(run: BenchResult): string {
  const { head, body } = rows(run.results);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
    '',
    ...footer(run).map((l) => `${l}  `),
  ].join('\n') + '\n';
}

/** A one-line progress bar on stderr (redrawn in place on a terminal, a line per phase otherwise). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): { update(p: Progress): void; done(): void } {
  const tty = stream.isTTY === true;
  let lastKey = '';
  return {
    update(p) {
      const width = 30;
      const filled = Math.round(p.fraction * width);
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(p.fraction * 100)).padStart(3)}%`;
      const rate = p.second ? `  ${Math.round((p.second.handshakes * 1000) / Math.max(1, p.second.intervalMs))} hs/s, ${p.second.handshakes ? Math.round((p.second.resumed / p.second.handshakes) * 100) : 0}% resumed` : '';
      const text = `${bar} ${p.scenario} · ${p.variant} · ${p.phase}${rate}`;
      if (tty) stream.write(`\r${text.padEnd(100).slice(0, Math.max(20, (stream.columns ?? 100) - 1))}`);
      else {
        const key = `${p.scenario}/${p.variant}/${p.phase}`;
        if (key !== lastKey && !p.second) stream.write(`${text}\n`);
        lastKey = key;
      }
    },
    done() {
      if (tty) stream.write('\r' + ' '.repeat(Math.max(20, (stream.columns ?? 100) - 1)) + '\r');
    },
  };
}
