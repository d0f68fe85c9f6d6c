/**
 * `tls-resumption-tools bench`: the comparison. Scenarios (single process, cluster of 2 workers,
 * two-process fleet, ticket key rotation mid-run) x servers (stock Node, Node with the
 * documented JS session cache, attach() with the feature that applies: internal cache, ticket
 * ring, shared store, Redis fleet, fromSecret ring; nginx/HAProxy anchors when installed),
 * driven by the native load generator in its own process. Terminal table (progress bar on
 * stderr), --json, --markdown, --svg.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

import { renderSvg } from '../bench/chart';
import { type BenchOptions, DEFAULT_KINDS, runBench } from '../bench/measure';
import { markdownTable, progressBar, textTable } from '../bench/report';
import { SCENARIOS, type ScenarioName } from '../bench/scenarios';
import { VARIANTS, type VariantName } from '../bench/variants';
import { selfSignedCertificate } from '../library';
import { CLIENT_KINDS, type ClientKind } from '../loadgen/population';

export const summary =
  'compare TLS resumption and CPU per handshake: stock Node vs JS cache vs attach, ring, shared store, fleet (and nginx/HAProxy)';

const HELP = `usage: tls-resumption-tools bench [options]

  --scenarios LIST    ${Object.keys(SCENARIOS).join(',')} (default: all)
  --variants LIST     only these servers: ${Object.keys(VARIANTS).join(',')} (default: all of each scenario)
  --no-anchors        skip nginx/HAProxy even when installed
  --duration SECONDS  length of each measured phase (default 3)
  --clients N         simulated clients per population (default 200)
  --concurrency C     closed-loop connections in flight (default 8)
  --rate R            open loop: connections started per second (default 0 = closed loop)
  --kinds LIST        client mix of the "mix" phase, e.g. reuse=0.5,once=0.5
                      (kinds: reuse, once, sessionId, fresh; default ${Object.entries(DEFAULT_KINDS)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(',')})
  --tls13 SHARE       share of TLS 1.3 clients, 0..1 (default 0.5)
  --seed N            population seed (default 1)
  --json FILE         write every figure as JSON
  --markdown          print the table as Markdown
  --svg FILE          write a chart (resumption ratio and CPU per handshake) as SVG
`;

function number(flag: string, raw: string | undefined, def: number, min: number, max: number, integer = false): number {
  if (raw === undefined) return def;
  const v = Number(raw);
  if (raw.trim() === '' || Number.isNaN(v) || (integer && !Number.isInteger(v)))
    throw new TypeError(`--${flag} must be ${integer ? 'an integer' : 'a number'}, got "${raw}".`);
  if (v < min || v > max) throw new RangeError(`--${flag} must be between ${min} and ${max}, got ${v}.`);
  return v;
}

function list<T extends string>(flag: string, raw: string | undefined, known: readonly T[]): T[] | undefined {
  if (raw === undefined) return undefined;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const i of items) if (!known.includes(i as T)) throw new RangeError(`--${flag}: unknown "${i}" (known: ${known.join(', ')}).`);
  if (items.length === 0) throw new RangeError(`--${flag} needs at least one of: ${known.join(', ')}.`);
  return items as T[];
}

/** Parses "reuse=0.5,once=0.5" into shares. */
export function parseKinds(raw: string): Partial<Record<ClientKind, number>> {
  const kinds: Partial<Record<ClientKind, number>> = {};
  for (const part of raw.split(',')) {
    const [name, value] = part.split('=').map((s) => s.trim());
    if (!CLIENT_KINDS.includes(name as ClientKind))
      throw new RangeError(`--kinds: unknown kind "${name}" (known: ${CLIENT_KINDS.join(', ')}).`);
    kinds[name as ClientKind] = number(`kinds ${name}`, value, NaN, 0, 1_000_000);
  }
  if (!Object.values(kinds).some((v) => v! > 0)) throw new RangeError('--kinds: at least one kind needs a share above 0.');
  return kinds;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenarios: { type: 'string' },
      variants: { type: 'string' },
      'no-anchors': { type: 'boolean' },
      duration: { type: 'string' },
      clients: { type: 'string' },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      kinds: { type: 'string' },
      tls13: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      markdown: { type: 'boolean' },
      svg: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const scenarios =
    list('scenarios', values.scenarios, Object.keys(SCENARIOS) as ScenarioName[]) ?? (Object.keys(SCENARIOS) as ScenarioName[]);
  const variants = list('variants', values.variants, Object.keys(VARIANTS) as VariantName[]);
  const options: BenchOptions = {
    durationMs: Math.round(number('duration', values.duration, 3, 0.5, 3600) * 1000),
    clients: number('clients', values.clients, 200, 1, 1_000_000, true),
    concurrency: number('concurrency', values.concurrency, 8, 1, 512, true),
    rate: number('rate', values.rate, 0, 0, 1_000_000),
    kinds: values.kinds !== undefined ? parseKinds(values.kinds) : { ...DEFAULT_KINDS },
    tls13: number('tls13', values.tls13, 0.5, 0, 1),
    seed: number('seed', values.seed, 1, 0, Number.MAX_SAFE_INTEGER, true),
  };

  const cert = selfSignedCertificate('localhost');
  const bar = progressBar();
  const result = await runBench(scenarios, options, cert, (p) => bar.update(p), {
    variants,
    anchors: !values['no-anchors'],
  });
  bar.done();
  process.stdout.write(values.markdown ? markdownTable(result) : textTable(result));
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  if (values.svg) fs.writeFileSync(values.svg, await renderSvg(result));
  return result.results.some((r) => !r.skipped) ? 0 : 1;
}
