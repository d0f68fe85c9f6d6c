/**
 * The run as an SVG chart, rendered headless with Vega-Lite + Vega (no canvas needed for SVG):
 * resumption ratio and server CPU per handshake (full, resumed TLS 1.2, resumed TLS 1.3) by
 * server, one row of panels per scenario.
 */
import type { BenchResult } from './measure';
import { SCENARIOS } from './scenarios';

// vega and vega-lite ship as ES modules only; TypeScript's CommonJS output would turn a plain
// import() into require(), so keep a real dynamic import.
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

interface Datum {
  scenario: string;
  server: string;
  metric: string;
  value: number;
}

function data(run: BenchResult): { resumption: Datum[]; cpu: Datum[] } {
  const resumption: Datum[] = [];
  const cpu: Datum[] = [];
  for (const r of run.results) {
    if (r.skipped) continue;
    const scenario = SCENARIOS[r.scenario].label;
    if (r.resumptionRatio !== null) resumption.push({ scenario, server: r.label, metric: 'mixed clients', value: r.resumptionRatio * 100 });
    if (r.onceTls13ResumptionRatio !== null) resumption.push({ scenario, server: r.label, metric: 'single-use clients, TLS 1.3', value: r.onceTls13ResumptionRatio * 100 });
    const add = (metric: string, v: number | null) => v !== null && cpu.push({ scenario, server: r.label, metric, value: v });
    add('full', r.cpuFullMicros);
    add('resumed TLS 1.2', r.cpuResumedTls12Micros);
    add('resumed TLS 1.3', r.cpuResumedTls13Micros);
  }
  return { resumption, cpu };
}

/** The Vega-Lite spec of the chart (exported for tests and for users who render it elsewhere). */
export function chartSpec(run: BenchResult): Record<string, unknown> {
  const { resumption, cpu } = data(run);
  const scenarios = [...new Set(run.results.filter((r) => !r.skipped).map((r) => SCENARIOS[r.scenario].label))];
  const servers = [...new Set(run.results.filter((r) => !r.skipped).map((r) => r.label))];
  const color = { field: 'server', type: 'nominal', scale: { domain: servers }, title: 'server' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'TLS session resumption: Node https stock vs JS cache vs tls-session-cache (internal cache, ticket ring, shared store, fleet)', subtitle: `${run.node}, OpenSSL ${run.openssl}, loopback, ${run.options.clients} clients` },
    config: { font: 'sans-serif', view: { stroke: null } },
    vconcat: [
      {
        title: 'Resumed handshakes (%): mixed client population, and single-use TLS 1.3 clients',
        data: { values: resumption },
        mark: { type: 'bar', tooltip: true },
        width: 220,
        resolve: { scale: { y: 'independent' } },
        encoding: {
          row: { field: 'scenario', type: 'nominal', sort: scenarios, title: null, header: { labelAngle: 0, labelAlign: 'left', labelLimit: 220 } },
          column: { field: 'metric', type: 'nominal', sort: ['mixed clients', 'single-use clients, TLS 1.3'], title: null },
          y: { field: 'server', type: 'nominal', sort: servers, title: null },
          x: { field: 'value', type: 'quantitative', title: '% resumed', scale: { domain: [0, 100] } },
          color,
        },
      },
      {
        title: 'Server CPU per handshake (µs, lower is better)',
        data: { values: cpu },
        mark: { type: 'bar', tooltip: true },
        width: 220,
        resolve: { scale: { y: 'independent' } },
        encoding: {
          row: { field: 'scenario', type: 'nominal', sort: scenarios, title: null, header: { labelAngle: 0, labelAlign: 'left', labelLimit: 220 } },
          column: { field: 'metric', type: 'nominal', sort: ['full', 'resumed TLS 1.2', 'resumed TLS 1.3'], title: null },
          y: { field: 'server', type: 'nominal', sort: servers, title: null },
          x: { field: 'value', type: 'quantitative', title: 'µs' },
          color,
        },
      },
    ],
  };
}

/** Renders the chart to an SVG string. */
export async function renderSvg(run: BenchResult): Promise<string> {
  const vl = (await importEsm('vega-lite')) as { compile(spec: unknown): { spec: unknown } };
  const vega = (await importEsm('vega')) as {
    parse(spec: unknown): unknown;
    View: new (runtime: unknown, opts: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void };
  };
  const compiled = vl.compile(chartSpec(run)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
