/**
 * The framework recipes of docs/frameworks.md run as written: each file of examples/frameworks/
 * is started as its own `node` process (Express, Fastify, Koa from npm; Node's http2
 * compatibility API), served over real TLS, resumed by a real client, its stats route read, and
 * stopped with SIGTERM, after which it reports the handle detached. The docs hold each file
 * verbatim (checked here), so what a reader copies is what ran.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { cert } from '../support/tls';

jest.setTimeout(60_000);

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples', 'frameworks');
const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'frameworks.md'), 'utf8');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-frameworks-'));
  fs.writeFileSync(path.join(dir, 'key.pem'), cert.key);
  fs.writeFileSync(path.join(dir, 'cert.pem'), cert.cert);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Running {
  child: ChildProcess;
  port: number;
  /** The next JSON line the example prints. */
  nextLine(): Promise<Record<string, unknown>>;
}

async function start(file: string): Promise<Running> {
  const child = spawn(process.execPath, [path.join(EXAMPLES, file)], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', TLS_KEY: path.join(dir, 'key.pem'), TLS_CERT: path.join(dir, 'cert.pem') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else queue.push(l);
  });
  const nextLine = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const take = (l: string) => resolve(JSON.parse(l) as Record<string, unknown>);
      const l = queue.shift();
      if (l !== undefined) take(l);
      else {
        waiting.push(take);
        child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before printing`)));
      }
    });
  const { port } = (await nextLine()) as { port: number };
  return { child, port, nextLine };
}

/** HTTPS GET over a new connection (Connection: close) through `agent`, which keeps the session. */
function get(agent: https.Agent, port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(
        {
          host: '127.0.0.1',
          port,
          path: urlPath,
          servername: 'localhost',
          agent,
          rejectUnauthorized: false,
          headers: { connection: 'close' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        },
      )
      .on('error', reject);
  });
}

/** An HTTP/2 GET over a new connection offering `session`; the newest session comes back. */
function h2Get(port: number, urlPath: string, session: Buffer | undefined): Promise<{ body: string; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let newest = session;
    const client = http2.connect(`https://localhost:${port}`, {
      host: '127.0.0.1',
      servername: 'localhost',
      rejectUnauthorized: false,
      session,
    });
    client.on('error', reject);
    client.on('connect', (_s, socket) => socket.on('session', (s: Buffer) => (newest = s)));
    const req = client.request({ ':path': urlPath });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => client.close(() => resolve({ body, session: newest })));
    req.on('error', reject);
    req.end();
  });
}

async function stop(r: Running): Promise<void> {
  const exited = new Promise<number | null>((resolve) => r.child.once('exit', (code) => resolve(code)));
  r.child.kill('SIGTERM');
  expect(await r.nextLine()).toEqual({ attached: false });
  r.child.kill('SIGKILL'); // Fastify and Koa keep no timers, but a recipe that did must not hang the suite
  await exited;
}

describe.each(['express', 'fastify', 'koa'])('%s recipe', (name) => {
  test.each(['TLSv1.2', 'TLSv1.3'] as const)(
    'runs: returning connections resume (%s), /tls-stats counts them, SIGTERM detaches',
    async (version) => {
      expect(DOC).toContain(fs.readFileSync(path.join(EXAMPLES, `${name}.js`), 'utf8').trim());
      const r = await start(`${name}.js`);
      try {
        const agent = new https.Agent({ keepAlive: false, minVersion: version, maxVersion: version });
        expect(await get(agent, r.port, '/')).toBe('resumed: false\n');
        expect(await get(agent, r.port, '/')).toBe('resumed: true\n');
        expect(await get(agent, r.port, '/')).toBe('resumed: true\n');
        const stats = JSON.parse(await get(agent, r.port, '/tls-stats')) as { hits: number; acceptsGood: number };
        expect(stats.hits).toBe(3);
        expect(stats.acceptsGood).toBe(4);
        agent.destroy();
      } finally {
        await stop(r);
      }
    },
  );
});

test('http2 compatibility API recipe runs: HTTP/2 connections resume, HTTP/1.1 through allowHTTP1 too, SIGTERM detaches', async () => {
  expect(DOC).toContain(fs.readFileSync(path.join(EXAMPLES, 'http2.js'), 'utf8').trim());
  const r = await start('http2.js');
  try {
    const first = await h2Get(r.port, '/', undefined);
    expect(first.body).toBe('resumed: false\n');
    const second = await h2Get(r.port, '/', first.session);
    expect(second.body).toBe('resumed: true\n');
    const agent = new https.Agent({ keepAlive: false });
    expect(await get(agent, r.port, '/')).toBe('resumed: false\n');
    expect(await get(agent, r.port, '/')).toBe('resumed: true\n');
    agent.destroy();
    const stats = JSON.parse((await h2Get(r.port, '/tls-stats', second.session)).body) as { hits: number; acceptsGood: number };
    expect(stats).toMatchObject({ hits: 3, acceptsGood: 5 });
  } finally {
    await stop(r);
  }
});
