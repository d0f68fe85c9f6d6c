/**
 * Every ```ts example in README.md and docs/ compiles under --strict against the package as a
 * user installs it (dist/ and package.json's exports and typesVersions, through a link in a fresh
 * project), under moduleResolution node10 (TypeScript's default for `module: commonjs`) and node16,
 * and RUNS: each in a child process of its own, from the JavaScript that project compiled (so it
 * is the package as installed that runs), after a prelude that gives the names the examples use
 * without defining real values (real https servers with a self-signed certificate, a real
 * attach(), TicketKeyRing, ioredis client on a redis-server this test starts, prom-client
 * Registry, OpenTelemetry SDK MeterProvider, a SoftHSM token for the hardware-key example...).
 * The prelude, its shims (ports, example host names, machine paths) and the list of names are in
 * test/support/docs-examples.ts.
 *
 * An example passes when its body completes without throwing, nothing is written to stderr (an
 * unhandled rejection, an 'error' event nobody listens to, a warning it logs), every server it
 * made listen completes a TLS handshake afterwards, and it is still fine a moment later; then the
 * test ends its process group. A block that cannot run here carries `<!-- not-run: reason -->`
 * right before it in the doc; the test lists them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import * as path from 'node:path';

import { repoRoot } from './support/build';
import {
  asModule,
  docFiles,
  type Example,
  entryExports,
  exampleName,
  examples,
  type Fixtures,
  PRELUDE,
  RUNNER,
  runnableCode,
  SUBSTITUTIONS,
} from './support/docs-examples';
import { type RedisServer, startRedis } from './support/redis';
import { createSoftToken, SOFTHSM_MODULE, type SoftToken } from './support/softhsm';
import { COMMONJS, NODE16, TsProject } from './support/ts-project';

let project: TsProject;
beforeAll(() => {
  project = new TsProject();
});
afterAll(() => project.remove());

const all = examples();

test('the docs hold ts examples to check', () => {
  expect(all.length).toBeGreaterThanOrEqual(20);
});

test.each([
  ['node10 (module commonjs)', COMMONJS],
  ['node16', NODE16],
])('every example compiles under --strict, moduleResolution %s', (_name, options) => {
  const exported = entryExports();
  const files: Record<string, string> = { 'prelude.ts': PRELUDE };
  const where = new Map<string, Example>();
  all.forEach((e, i) => {
    const name = `example${i}.ts`;
    files[name] = asModule(e, exported);
    where.set(name, e);
  });
  const errors = project.compile(files, { ...options, esModuleInterop: true }).map((d) => {
    const m = /^(example\d+\.ts):(\d+): (.*)$/.exec(d);
    const e = m ? where.get(m[1]!) : undefined;
    // Point at the doc's own line: the file's line n is the block's line n - 1 (line 1 is the header).
    return e && m ? `${e.doc}:${e.line + Number(m[2]) - 2}: ${m[3]}` : d;
  });
  expect(errors).toEqual([]);
});

// The docs name the test that shows each claim; a moved or renamed test must not leave a
// citation behind that a reader cannot follow.
test('every test file README.md, CHANGELOG.md and docs/ cite exists', () => {
  const docs = ['CHANGELOG.md', ...docFiles()];
  const missing: string[] = [];
  for (const doc of docs) {
    const text = fs.readFileSync(path.join(repoRoot, doc), 'utf8');
    for (const [cited] of text.matchAll(/\b(?:tools\/)?test\/[\w/.-]+\.test\.ts\b/g)) {
      if (!fs.existsSync(path.join(repoRoot, cited))) missing.push(`${doc}: ${cited}`);
    }
  }
  expect(missing).toEqual([]);
});

/** The blocks the docs mark `<!-- not-run: reason -->`, each with its reason: none is skipped silently. */
const NOT_RUN = ["docs/operations.md: needs Debian's pkcs11-provider package, which the test machine's apt sources do not have"];

/** Examples the docs say fail on some Node lines: there they must fail exactly as the doc says. */
const DOCUMENTED_FAILURES = [
  {
    doc: 'docs/api.md',
    contains: 'tickets: { pskKe: true }',
    when: (): boolean =>
      !(require(path.join(repoRoot, 'dist/server/options.js')) as typeof import('../src/server/options')).serverPskKeSupported(),
    stderr: /^example threw: ERR_TLS_RESUMPTION_UNSUPPORTED Error: "tickets.pskKe" needs OpenSSL 3.3 or later/,
  },
];

/** Time an example's body has to complete (a child under load: node's start, the package, Redis). */
const COMPLETE_MS = 15000;
/** How long a completed example keeps running (servers serving, requests in flight) before it is ended. */
const LINGER_MS = 1000;

interface Outcome {
  resolved: boolean;
  exit: string;
  stderr: string;
}

describe('every example runs', () => {
  const runnable = all.filter((e) => !e.notRun);
  const outcomes = new Map<Example, Outcome>();
  const used = new Set<(typeof SUBSTITUTIONS)[number]>();
  let redis: RedisServer | undefined;
  let token: SoftToken | undefined;
  let upstream: http2.Http2SecureServer | undefined;
  const sockets = new Set<net.Socket>();
  let env: NodeJS.ProcessEnv;

  function run(file: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const child: ChildProcess = spawn(process.execPath, ['runner.js', `./${file}`], {
        cwd: project.dir,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let [stdout, stderr, resolved, ended] = ['', '', false, false];
      const end = (): void => {
        if (ended) return;
        ended = true;
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          // already gone
        }
      };
      const deadline = setTimeout(end, COMPLETE_MS);
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (!resolved && stdout.includes('resolved\n')) {
          resolved = true;
          clearTimeout(deadline);
          setTimeout(end, LINGER_MS);
        }
      });
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('exit', (code, signal) => {
        clearTimeout(deadline);
        ended = true;
        // Its workers and helpers (the benchmark's load generator) go with it.
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // none left
        }
        const exit = signal === 'SIGTERM' && resolved ? 'ended by the test' : signal ? `killed by ${signal}` : `exit code ${code}`;
        resolve({ resolved, exit, stderr });
      });
    });
  }

  beforeAll(async () => {
    redis = await startRedis();
    token = createSoftToken({ label: 'edge', object: 'tls' });
    const dir = path.join(project.dir, 'fixtures');
    fs.mkdirSync(dir);
    const { selfSignedCertificate } = require(path.join(repoRoot, 'dist/ops/certificate.js')) as typeof import('../src/ops/certificate');
    const local = selfSignedCertificate('localhost');
    fs.writeFileSync(path.join(dir, 'key.pem'), local.key, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'cert.pem'), local.cert);
    // nginx's ssl_session_ticket_key file: 80 random bytes.
    fs.writeFileSync(path.join(dir, 'nginx-ticket.key'), require('node:crypto').randomBytes(80) as Buffer, { mode: 0o600 });
    upstream = http2.createSecureServer({ allowHTTP1: true, key: local.key, cert: local.cert }, (_req, res) => res.end('ok'));
    let ca = local.cert;
    for (const host of ['api.example.com', 'db.example.com', 'example.com']) {
      const c = selfSignedCertificate(host);
      upstream.addContext(host, { key: c.key, cert: c.cert });
      ca += c.cert;
    }
    fs.writeFileSync(path.join(dir, 'ca.pem'), ca);
    upstream.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r));
    const fixtures: Fixtures = {
      dir,
      upstreamPort: (upstream.address() as net.AddressInfo).port,
      redisPort: redis.port,
      token: { certFile: path.join(token.dir, 'cert.pem'), pinFile: token.pinFile, module: SOFTHSM_MODULE, env: token.env() },
    };
    env = {
      ...process.env,
      ...fixtures.token.env,
      NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'),
      EXAMPLES_DIR: dir,
      EXAMPLES_UPSTREAM_PORT: String(fixtures.upstreamPort),
      EXAMPLES_REDIS_PORT: String(redis.port),
    };

    const exported = entryExports();
    const files: Record<string, string> = { 'prelude.ts': PRELUDE };
    const names = new Map<Example, string>();
    runnable.forEach((e, i) => {
      const { code, used: u } = runnableCode(e, fixtures, `docs-example-${process.pid}-${i}`);
      for (const s of u) used.add(s);
      names.set(e, `run${i}`);
      files[`run${i}.ts`] = asModule(e, exported, code, true);
    });
    // Type-checked by the compile tests above; the substitutions only swap literals.
    project.transpile(files);
    fs.writeFileSync(path.join(project.dir, 'runner.js'), RUNNER);

    // Two at a time: the machine has two cores.
    const queue = [...runnable];
    await Promise.all(
      [0, 1].map(async () => {
        for (let e = queue.shift(); e; e = queue.shift()) outcomes.set(e, await run(`${names.get(e)}.js`));
      }),
    );
  }, 300000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)));
    await redis?.stop();
    token?.remove();
  });

  test('the blocks the docs mark not-run are these, each with its reason', () => {
    expect(all.filter((e) => e.notRun).map((e) => `${e.doc}: ${e.notRun}`)).toEqual(NOT_RUN);
  });

  test('every documented failure names an example', () => {
    expect(DOCUMENTED_FAILURES.filter((f) => !all.some((e) => e.doc === f.doc && e.code.includes(f.contains)))).toEqual([]);
  });

  test('every run-time substitution applies to an example', () => {
    expect(SUBSTITUTIONS.filter((s) => !used.has(s)).map((s) => `${s.doc}: ${String(s.from)}`)).toEqual([]);
  });

  test.each(runnable.map((e) => [exampleName(e), e] as const))('%s', (_name, e) => {
    const failure = DOCUMENTED_FAILURES.find((f) => f.doc === e.doc && e.code.includes(f.contains) && f.when());
    if (failure) expect(outcomes.get(e)).toEqual({ resolved: false, exit: 'exit code 1', stderr: expect.stringMatching(failure.stderr) });
    else expect(outcomes.get(e)).toEqual({ resolved: true, exit: expect.stringMatching(/^(ended by the test|exit code 0)$/), stderr: '' });
  });
});
