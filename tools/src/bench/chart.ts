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
    if (r.onceTls13ResumptionRatio !== null)
      resumption.push({ scenario, server: r.label, metric: 'single-use clients, TLS 1.3', value: r.onceTls13ResumptionRatio * 100 });
    const add = (metric: string, v: number | null) => v !== null && cpu.push({ scenario, server: r.label, metric, value: v });
    add('full', r.cpuFullMicros);
    add('resumed TLS 1.2', r.cpuResumedTls12Micros);
    add('resumed TLS 1.3', r.cpuResumedTls13Micros);
  }
  return { resumption, cpu };
}

/**
 * The Vega-Lite spec of the chart (exported for tests and for users who render it elsewhere).
 * One explicit cell per scenario and metric (vconcat of hconcats) rather than a row x column
 * facet: a faceted grid with independent y scales lays cells out of order when a scenario lacks
 * a metric (no `onceTls13` phase in the cluster scenario, no clean resumed CPU figure), and puts
 * one scenario's bars under another's label.
 */
export function chartSpec(run: BenchResult): Record<string, unknown> {
  const { resumption, cpu } = data(run);
  const shown = run.results.filter((r) => !r.skipped);
  const scenarios = [...new Set(shown.map((r) => SCENARIOS[r.scenario].label))];
  const servers = [...new Set(shown.map((r) => r.label))];
  const color = { field: 'server', type: 'nominal', scale: { domain: servers }, title: 'server', legend: { labelLimit: 320 } };
  const cell = (values: Datum[], scenario: string, metric: string, xTitle: string, domain?: [number, number]) => {
    const rows = values.filter((d) => d.scenario === scenario && d.metric === metric);
    return {
      title: { text: `${scenario}: ${metric}`, fontSize: 11 },
      data: { values: rows },
      mark: { type: 'bar', tooltip: true },
      width: 200,
      height: { step: 14 },
      encoding: {
        y: { field: 'server', type: 'nominal', sort: servers.filter((s) => rows.some((d) => d.server === s)), title: null },
        x: { field: 'value', type: 'quantitative', title: xTitle, ...(domain ? { scale: { domain } } : {}) },
        color,
      },
    };
  };
  const panel = (title: string, values: Datum[], metrics: string[], xTitle: string, domain?: [number, number]) => ({
    title,
    vconcat: scenarios
      .map((sc) => ({
        hconcat: metrics
          .filter((m) => values.some((d) => d.scenario === sc && d.metric === m))
          .map((m) => cell(values, sc, m, xTitle, domain)),
      }))
      .filter((row) => row.hconcat.length > 0),
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'TLS session resumption: Node https stock vs JS cache vs tls-resumption',
      subtitle: `${run.node}, OpenSSL ${run.openssl}, loopback, ${run.options.clients} clients`,
    },
    config: { font: 'sans-serif', view: { stroke: null } },
    vconcat: [
      panel(
        'Resumed handshakes (%, higher is better)',
        resumption,
        ['mixed clients', 'single-use clients, TLS 1.3'],
        '% resumed',
        [0, 100],
      ),
      panel('Server CPU per handshake (µs, lower is better)', cpu, ['full', 'resumed TLS 1.2', 'resumed TLS 1.3'], 'µs'),
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
