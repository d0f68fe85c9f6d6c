/**
 * The benchmark CLI end to end (servers and load generator in their own processes), its
 * argument checks, and the /proc CPU reader. Checks shape and sanity, never speed.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDist, repoRoot } from '../../test/support/build';
import { redisUnavailable } from '../src/bench/redis';
import { parseKinds } from '../src/cli/bench';
import { processTree, processTreeCpuMicros } from '../src/loadgen/procfs';

jest.setTimeout(180_000);

const cli = path.join(repoRoot, 'tools', 'dist', 'cli', 'main.js');

/** Every field docs/benchmark.md documents for one server in one scenario. */
const RESULT_FIELDS = [
  'scenario',
  'variant',
  'label',
  'description',
  'phases',
  'resumptionRatio',
  'handshakesPerSecond',
  'latencyMicros',
  'cpuFullMicros',
  'cpuResumedTls12Micros',
  'cpuResumedTls13Micros',
  'onceTls13ResumptionRatio',
  'vsStock',
  'serverStats',
];
const VS_STOCK_FIELDS = [
  'cpuFull',
  'cpuResumedTls12',
  'cpuResumedTls13',
  'handshakesPerSecond',
  'onceTls13ResumptionRatio',
  'resumptionRatio',
];
const PHASE_FIELDS = [
  'phase',
  'load',
  'perSecond',
  'serverCpuMicros',
  'cpuPerHandshakeMicros',
  'handshakesPerSecond',
  'resumptionRatio',
  'serverCounts',
];
const LOAD_FIELDS = [
  'elapsedMs',
  'intervalMs',
  'handshakes',
  'full',
  'resumed',
  'offered',
  'completed',
  'failures',
  'failureReasons',
  'kinds',
  'versions',
  'latencyMicros',
];

/** Well-formedness of an SVG document: one <svg> root in the SVG namespace, every tag closed in order. */
function parseSvg(text: string): { root: string; elements: number } {
  const body = text
    .replace(/<\?xml[^>]*\?>/, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .trim();
  const stack: string[] = [];
  let elements = 0;
  let root = '';
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    if (/[<>]/.test(body.slice(last, m.index))) throw new Error(`stray markup before offset ${m.index}`);
    last = m.index + m[0].length;
    const [, closing, name, attrs, selfClosing] = m;
    if (closing) {
      if (stack.pop() !== name) throw new Error(`mismatched </${name}>`);
      continue;
    }
    elements++;
    if (!root) {
      root = name!;
      if (!/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/.test(attrs!)) throw new Error('root lacks the SVG namespace');
    } else if (stack.length === 0) throw new Error('more than one root element');
    if (!selfClosing) stack.push(name!);
  }
  if (stack.length) throw new Error(`unclosed <${stack.pop()}>`);
  return { root, elements };
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => ensureDist());

describe('tls-resumption-tools bench', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsc-bench-test-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a short run writes JSON with every documented field, a Markdown table and an SVG chart', async () => {
    const json = path.join(dir, 'run.json');
    const svg = path.join(dir, 'run.svg');
    const r = await runCli([
      'bench',
      '--scenarios',
      'single,rotation',
      '--variants',
      'stock,jsCache,attach,ring',
      '--no-anchors',
      '--duration',
      '1.25',
      '--clients',
      '50',
      '--concurrency',
      '4',
      '--kinds',
      'reuse=0.5,once=0.3,sessionId=0.2',
      '--tls13',
      '0.5',
      '--json',
      json,
      '--svg',
      svg,
      '--markdown',
    ]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\| scenario \| server \| resumed \(mix\) \| resumed \(once 1\.3\) \|/m);
    expect(r.stdout).toMatch(/\| single process \| attach \|/);
    expect(r.stdout).toMatch(/\| single process \| attach \+ ticket ring \|/);

    const run = JSON.parse(fs.readFileSync(json, 'utf8'));
    for (const f of ['startedAt', 'node', 'openssl', 'cpus', 'options', 'results', 'notes', 'elapsedMs']) expect(run).toHaveProperty(f);
    expect(run.options).toEqual({
      durationMs: 1250,
      clients: 50,
      concurrency: 4,
      rate: 0,
      kinds: { reuse: 0.5, once: 0.3, sessionId: 0.2 },
      tls13: 0.5,
      seed: 1,
    });
    expect(run.results).toHaveLength(8);
    for (const res of run.results) {
      for (const f of RESULT_FIELDS) expect(res).toHaveProperty(f);
      expect(Object.keys(res.vsStock).sort()).toEqual(VS_STOCK_FIELDS);
      for (const p of Object.values(res.phases) as Record<string, unknown>[]) {
        for (const f of PHASE_FIELDS) expect(p).toHaveProperty(f);
        for (const f of LOAD_FIELDS) expect(p.load).toHaveProperty(f);
        const load = p.load as { handshakes: number; resumed: number; failures: number };
        // The server's own counts agree with the clients'.
        expect(p.serverCounts).toEqual({ handshakes: load.handshakes, resumed: load.resumed });
        expect(load.failures).toBe(0);
        expect(load.handshakes).toBeGreaterThan(0);
        expect(p.serverCpuMicros as number).toBeGreaterThan(0);
      }
    }
    const single = (v: string) =>
      run.results.find((x: { scenario: string; variant: string }) => x.scenario === 'single' && x.variant === v);
    expect(Object.keys(single('stock').phases)).toEqual(['full', 'resumedTls12', 'resumedTls13', 'onceTls13', 'mix']);
    for (const v of ['stock', 'jsCache', 'attach', 'ring']) {
      expect(single(v).cpuFullMicros).toBeGreaterThan(0);
      expect(single(v).cpuResumedTls12Micros).toBeGreaterThan(0);
      expect(single(v).phases.full.resumptionRatio).toBe(0);
    }
    expect(single('stock').vsStock.resumptionRatio).toBe(1);
    // Stock Node cannot resume sessionId clients; attach can: its mix resumes more.
    expect(single('attach').resumptionRatio).toBeGreaterThan(single('stock').resumptionRatio);
    expect(single('attach').serverStats.hits).toBeGreaterThan(0);
    // Single-use TLS 1.3 clients: stock Node resumes about every other connection, the ring all.
    expect(single('stock').onceTls13ResumptionRatio).toBeGreaterThan(0.3);
    expect(single('stock').onceTls13ResumptionRatio).toBeLessThan(0.7);
    const ringOnce = single('ring').phases.onceTls13.load;
    expect(ringOnce.resumed).toBe(ringOnce.handshakes);
    expect(single('ring').onceTls13ResumptionRatio).toBe(1);
    expect(single('ring').vsStock.onceTls13ResumptionRatio).toBeGreaterThan(1.4);
    expect(single('ring').serverStats.tickets.resumed).toBeGreaterThan(0);
    const rotation = run.results.filter((x: { scenario: string }) => x.scenario === 'rotation');
    expect(rotation.map((x: { variant: string }) => x.variant)).toEqual(['stock', 'jsCache', 'attach', 'ring']);
    // The ring rotated with ring.rotate(): tickets under the old key kept resuming and were renewed.
    const ringRot = rotation.find((x: { variant: string }) => x.variant === 'ring');
    expect(ringRot.serverStats.tickets.renewed).toBeGreaterThan(0);
    expect(ringRot.serverStats.tickets.unknownKey).toBe(0);
    expect(Object.keys(ringRot.serverStats.tickets.keys)).toHaveLength(2);
    for (const x of rotation) {
      expect(x.phases.mix.rotatedAtMs).toBeGreaterThan(0);
      expect(Object.keys(x.phases.mix.rotation).sort()).toEqual(['resumedAfter', 'resumedBefore']);
    }
    expect(r.stdout).toMatch(/rotation at [\d.]+ s, node stock: resumed/);

    const chart = fs.readFileSync(svg, 'utf8');
    const parsed = parseSvg(chart);
    expect(parsed.root).toBe('svg');
    expect(parsed.elements).toBeGreaterThan(20);
    expect(chart).toContain('attach');
    expect(chart).toContain('CPU per handshake');
  });

  test('cluster scenario: the server is a primary with 2 workers, its CPU and counts cover all of them', async () => {
    const json = path.join(dir, 'cluster.json');
    const r = await runCli([
      'bench',
      '--scenarios',
      'cluster',
      '--variants',
      'stock,attach,shared',
      '--duration',
      '0.5',
      '--clients',
      '20',
      '--concurrency',
      '4',
      '--json',
      json,
    ]);
    expect(r.code).toBe(0);
    const run = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(run.results.map((x: { variant: string }) => x.variant)).toEqual(['stock', 'attach', 'shared']);
    for (const res of run.results) {
      for (const p of Object.values(res.phases) as {
        load: { handshakes: number; resumed: number };
        serverCounts: unknown;
        serverCpuMicros: number;
      }[]) {
        expect(p.serverCounts).toEqual({ handshakes: p.load.handshakes, resumed: p.load.resumed });
        expect(p.serverCpuMicros).toBeGreaterThan(0);
      }
    }
    const attach = run.results[1];
    expect(Object.keys(attach.serverStats)).toEqual(['worker1', 'worker2']);
    // Both workers served handshakes (round-robin), each from its own attached cache.
    expect(attach.serverStats.worker1.acceptsGood).toBeGreaterThan(0);
    expect(attach.serverStats.worker2.acceptsGood).toBeGreaterThan(0);

    // The shared store: one store for both workers, so every offered session resumes wherever
    // the client lands; its file is the run's own and is gone afterwards.
    const shared = run.results[2];
    expect(shared.label).toBe('attach + shared store');
    const store = shared.serverStats.worker1.shared;
    expect(store.path).toBe(shared.serverStats.worker2.shared.path);
    expect(store.hits).toBeGreaterThan(0);
    for (const phase of ['resumedTls12', 'resumedTls13'] as const) {
      const load = shared.phases[phase].load;
      expect(load.resumed).toBe(load.offered);
    }
    expect(fs.existsSync(store.path)).toBe(false);
  });

  test('fleet scenario: two server processes on two ports, clients on both; Redis fleet and fromSecret ring share resumption', async () => {
    const json = path.join(dir, 'fleet.json');
    const r = await runCli([
      'bench',
      '--scenarios',
      'fleet',
      '--variants',
      'stock,fleet,ringSecret',
      '--duration',
      '0.5',
      '--clients',
      '30',
      '--concurrency',
      '4',
      '--json',
      json,
      '--markdown',
    ]);
    expect(r.code).toBe(0);
    const run = JSON.parse(fs.readFileSync(json, 'utf8'));
    const missing = redisUnavailable();
    if (missing) {
      // No redis-server here: the Redis variant is left out with a note, the others still run.
      expect(run.notes.join('\n')).toContain(`fleet (fleet) skipped: ${missing}`);
      expect(run.results.map((x: { variant: string }) => x.variant)).toEqual(['stock', 'ringSecret']);
      return;
    }
    expect(run.results.map((x: { variant: string }) => x.variant)).toEqual(['stock', 'fleet', 'ringSecret']);
    const by = (v: string) => run.results.find((x: { variant: string }) => x.variant === v);
    for (const res of run.results) {
      for (const f of RESULT_FIELDS) expect(res).toHaveProperty(f);
      expect(Object.keys(res.phases)).toEqual(['full', 'resumedTls12', 'resumedTls13', 'onceTls13', 'mix']);
      // Both processes served (clients land at random per connection), counts summed over both.
      expect(Object.keys(res.serverStats)).toEqual(['process1', 'process2']);
      for (const p of Object.values(res.phases) as {
        load: { handshakes: number; resumed: number; failures: number };
        serverCounts: unknown;
        redisCpuMicros?: number;
      }[]) {
        expect(p.serverCounts).toEqual({ handshakes: p.load.handshakes, resumed: p.load.resumed });
        expect(p.load.failures).toBe(0);
        // Redis CPU is reported beside the Redis variant's figures only.
        if (res.variant === 'fleet') expect(p.redisCpuMicros).toBeGreaterThanOrEqual(0);
        else expect(p).not.toHaveProperty('redisCpuMicros');
      }
    }
    // Stock: each process its own ticket key, so about half the offered tickets resume.
    expect(by('stock').phases.resumedTls12.resumptionRatio).toBeLessThan(0.8);
    // Shared ticket keys (Redis ring, fromSecret ring): every offered ticket resumes on either process.
    for (const v of ['fleet', 'ringSecret']) {
      for (const phase of ['resumedTls12', 'resumedTls13', 'onceTls13']) {
        const load = by(v).phases[phase].load;
        expect(load.resumed).toBe(load.offered);
      }
    }
    // Session IDs (clients without tickets) cross processes only through the Redis fleet store.
    const fleet = by('fleet');
    const sid = fleet.phases.mix.load.kinds.sessionId;
    // A lookup past the default 20 ms deadline is a full handshake by design (counted in
    // fleet.timeouts): on a loaded CI machine one may happen; every other offer resumes.
    const timeouts = fleet.serverStats.process1.fleet.timeouts + fleet.serverStats.process2.fleet.timeouts;
    expect(sid.resumed + timeouts).toBeGreaterThanOrEqual(sid.offered);
    expect(fleet.serverStats.process1.fleet.hits + fleet.serverStats.process2.fleet.hits).toBeGreaterThan(0);
    expect(fleet.serverStats.process1.fleet.ringVersion).toBe(fleet.serverStats.process2.fleet.ringVersion);
    expect(r.stdout).toMatch(/\| fleet, 2 processes \| attach \+ fleet \(Redis\) \|/);
    expect(r.stdout).toMatch(/redis-server CPU \d+ µs per handshake in mix/);
  });

  test('--help lists the flags; bad flags exit 1 naming the flag and range', async () => {
    const help = await runCli(['bench', '--help']);
    expect(help.code).toBe(0);
    for (const f of ['--duration', '--clients', '--concurrency', '--kinds', '--tls13', '--json', '--markdown', '--svg', '--scenarios'])
      expect(help.stdout).toContain(f);
    const bad = await runCli(['bench', '--tls13', '2']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--tls13 must be between 0 and 1, got 2/);
    const unknown = await runCli(['bench', '--scenarios', 'fleet9']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/--scenarios: unknown "fleet9"/);
  });

  test('--kinds parses shares and rejects unknown kinds', () => {
    expect(parseKinds('reuse=0.5,once=0.5')).toEqual({ reuse: 0.5, once: 0.5 });
    expect(() => parseKinds('reuse=0.5,browser=0.5')).toThrow(/unknown kind "browser"/);
    expect(() => parseKinds('reuse=x')).toThrow(TypeError);
    expect(() => parseKinds('fresh=0')).toThrow(RangeError);
  });

  test('the main command lists bench', () => {
    const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/bench\s+compare TLS resumption/);
  });
});

describe('server CPU from /proc', () => {
  test('counts a process and its descendants', async () => {
    // A shell that runs a busy child: the tree has both, and its CPU grows.
    const child = spawn('sh', ['-c', `${JSON.stringify(process.execPath)} -e "const t=Date.now()+800; while(Date.now()<t);" & wait`], {
      stdio: 'ignore',
    });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const tree = processTree(child.pid!);
      expect(tree[0]).toBe(child.pid);
      expect(tree.length).toBeGreaterThanOrEqual(2);
      const before = processTreeCpuMicros(tree);
      await new Promise((r) => setTimeout(r, 400));
      expect(processTreeCpuMicros(tree) - before).toBeGreaterThan(20_000); // 20 ms: loose, the machine is shared
    } finally {
      await new Promise((r) => child.on('exit', r));
    }
  });
});
