/**
 * Real TLS clients as users run them, each making `count` connections one after the other to
 * https://localhost:<port>/ (127.0.0.1), keeping whatever session its own cache or API keeps.
 * The server answers `Connection: close` and pins the TLS version, so every request is a new
 * connection and no client needs a version flag; the server counts what resumed. Each driver
 * also names the command a user would type to see the same (`command`).
 */
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';

import { type Chromium, launchChromium } from './chromium';

export type ClientName = 'chromium' | 'curl' | 'python' | 'go' | 'openssl' | 'node-https' | 'node-fetch' | 'node-fetch-sessions';

export interface ClientDriver {
  /** One line: the client and how it keeps sessions. */
  description: string;
  /** Why the client cannot run here (binary missing), or undefined. */
  unavailable(): string | undefined;
  /** Makes `count` connections in sequence to the port. */
  run(port: number, count: number): Promise<void>;
  /** The shell command that makes the same connections (for the docs table). */
  command(count: number): string;
}

const URL_OF = (port: number) => `https://localhost:${port}/`;
const REQUEST = 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';

function exec(bin: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      { env: o.env ?? process.env, timeout: o.timeoutMs ?? 30000, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`${path.basename(bin)} failed: ${err.message}\n${stderr}`)) : resolve(stdout)),
    );
    child.stdin?.end(o.input ?? '');
  });
}

function missing(bin: string, pkg: string): string | undefined {
  return fs.existsSync(bin) ? undefined : `${bin} is missing (apt-get install ${pkg})`;
}

/** A scratch directory for one run's files (Go binary, sessions, browser profile). */
export function scratchDir(kind: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tls-resumption-clients-${kind}-`));
}

const PYTHON_CLIENT = `
import socket, ssl, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
session = None
for _ in range(count):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(${JSON.stringify(REQUEST)}.encode())
            while s.recv(65536):
                pass
            session = s.session
`;

const GO_CLIENT = `package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strconv"
)

func main() {
	port := os.Args[1]
	count, _ := strconv.Atoi(os.Args[2])
	cfg := &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(64)}
	for i := 0; i < count; i++ {
		c, err := tls.Dial("tcp", "127.0.0.1:"+port, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		io.WriteString(c, ${JSON.stringify(REQUEST)})
		io.Copy(io.Discard, c)
		c.Close()
	}
}
`;

let goBinary: Promise<string> | undefined;

/** Builds the Go client once per process (into a directory named after its source, reused). */
function buildGoClient(): Promise<string> {
  goBinary ??= (async () => {
    const hash = crypto.createHash('sha256').update(GO_CLIENT).digest('hex').slice(0, 12);
    const dir = path.join(os.tmpdir(), `tls-resumption-go-client-${hash}`);
    const bin = path.join(dir, 'client');
    if (fs.existsSync(bin)) return bin;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `main.${process.pid}.go`), GO_CLIENT);
    const env = { ...process.env, GOCACHE: path.join(os.tmpdir(), 'tls-resumption-go-cache'), GOFLAGS: '-mod=mod', GO111MODULE: 'off' };
    // Two test processes (two Node lines) may build at once: each into its own file, renamed into place.
    const tmp = `${bin}.${process.pid}.tmp`;
    await exec('/usr/bin/go', ['build', '-o', tmp, path.join(dir, `main.${process.pid}.go`)], { env, timeoutMs: 300000 });
    fs.renameSync(tmp, bin);
    return bin;
  })();
  return goBinary;
}

/** Node's https with one Agent (its session cache: one session per host key), as a service making calls does. */
async function nodeHttps(port: number, count: number): Promise<void> {
  const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 100 });
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = https.get(
          { host: '127.0.0.1', servername: 'localhost', port, path: '/', agent, rejectUnauthorized: false, headers: { host: 'localhost' } },
          (res) => {
            res.resume();
            res.on('end', resolve);
            res.on('error', reject);
          },
        );
        req.on('error', reject);
      });
    }
  } finally {
    agent.destroy();
  }
}

// A pause between fetches lets the previous connection close first, as between a service's
// calls: without it, whether fetch resumes on Node 24 and 26 is a race (undici 7 and 8 drop an
// origin's pool, and with it the pool's TLS session cache, once its last connection closes).
const FETCH_CLIENT = `
const [port, count] = process.argv.slice(-2).map(Number);
(async () => {
  for (let i = 0; i < count; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    await (await fetch('https://localhost:' + port + '/')).text();
  }
})().catch((err) => { console.error(err); process.exit(1); });
`;

// The same fetches through this package's outbound cache (clientSessions().connector() in an
// undici Agent): its sessions live in the cache, not in undici's per-origin pool.
const FETCH_SESSIONS_CLIENT = `
const undici = require(process.env.UNDICI_PATH);
const { clientSessions } = require(process.env.TLS_RESUMPTION_PATH);
const [port, count] = process.argv.slice(-2).map(Number);
const dispatcher = new undici.Agent({ connect: clientSessions().connector({ rejectUnauthorized: false }) });
(async () => {
  for (let i = 0; i < count; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    await (await fetch('https://localhost:' + port + '/', { dispatcher })).text();
  }
  await dispatcher.close();
})().catch((err) => { console.error(err); process.exit(1); });
`;

function fetchChild(script: string, port: number, count: number, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return exec(process.execPath, ['--dns-result-order=ipv4first', '-e', script, String(port), String(count)], {
    env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_NO_WARNINGS: '1', ...env },
  });
}

let browser: Promise<Chromium> | undefined;

/** One headless Chromium for the whole run (closed by `closeDrivers`). */
function sharedBrowser(): Promise<Chromium> {
  browser ??= launchChromium();
  return browser;
}

/** Ends what the drivers keep across cells (the browser). */
export async function closeDrivers(): Promise<void> {
  const b = browser;
  browser = undefined;
  if (b) await (await b).close();
}

export const CLIENTS: Record<ClientName, ClientDriver> = {
  chromium: {
    description: "headless Chromium (Debian's), one tab navigating again and again; its own session cache",
    unavailable: () => missing('/usr/bin/chromium', 'chromium'),
    run: async (port, count) => {
      // A tab per run: servers measured at the same time share the browser (its session cache
      // is keyed by host and port, so each server's cell sees only its own sessions).
      const tab = await (await sharedBrowser()).openTab();
      try {
        for (let i = 0; i < count; i++) await tab.navigate(URL_OF(port));
      } finally {
        await tab.closeTab();
      }
    },
    command: (count) => `chromium --headless ... then navigate ${count} times to https://localhost:PORT/ (tools/src/clients/chromium.ts)`,
  },
  curl: {
    description: 'curl, one invocation with the URL repeated (curl reuses sessions within one invocation)',
    unavailable: () => missing('/usr/bin/curl', 'curl'),
    run: async (port, count) => {
      await exec('/usr/bin/curl', [
        '-sSk',
        '--resolve',
        `localhost:${port}:127.0.0.1`,
        ...Array.from({ length: count }, () => ['-o', '/dev/null', URL_OF(port)]).flat(),
      ]);
    },
    command: (count) =>
      `curl -sSk --resolve localhost:PORT:127.0.0.1 ${Array.from({ length: count }, () => '-o /dev/null https://localhost:PORT/').join(' ')}`,
  },
  python: {
    description: "Python's ssl, SSLSocket.session of the previous connection passed to the next",
    unavailable: () => undefined,
    run: async (port, count) => {
      await exec('python3', ['-c', PYTHON_CLIENT, String(port), String(count)]);
    },
    command: (count) => `python3 -c "$PYTHON_CLIENT" PORT ${count} (tools/src/clients/drivers.ts)`,
  },
  go: {
    description: "Go crypto/tls, tls.NewLRUClientSessionCache (Debian's golang-go)",
    unavailable: () => missing('/usr/bin/go', 'golang-go'),
    run: async (port, count) => {
      await exec(await buildGoClient(), [String(port), String(count)]);
    },
    command: (count) => `go build client.go && ./client PORT ${count} (tools/src/clients/drivers.ts)`,
  },
  openssl: {
    description: 'openssl s_client, one process per connection, -sess_out then -sess_in (not -reconnect)',
    unavailable: () => missing('/usr/bin/openssl', 'openssl'),
    run: async (port, count) => {
      const dir = scratchDir('openssl');
      const file = path.join(dir, 'session.pem');
      try {
        for (let i = 0; i < count; i++) {
          const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-ign_eof', '-quiet', '-sess_out', file];
          if (i > 0) args.push('-sess_in', file);
          await exec('/usr/bin/openssl', args, { input: REQUEST });
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    command: (count) =>
      `printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:PORT -servername localhost -ign_eof -quiet -sess_out s.pem [-sess_in s.pem] (${count} times)`,
  },
  'node-https': {
    description: "Node https.get with one https.Agent (its session cache), this process's Node",
    unavailable: () => undefined,
    run: nodeHttps,
    command: (count) => `https.get(url, { agent }) x ${count} with one new https.Agent({ keepAlive: false })`,
  },
  'node-fetch': {
    description: "Node's fetch (undici) in a child process of the same Node, 50 ms between fetches, NODE_TLS_REJECT_UNAUTHORIZED=0",
    unavailable: () => undefined,
    run: async (port, count) => {
      await fetchChild(FETCH_CLIENT, port, count);
    },
    command: (count) =>
      `NODE_TLS_REJECT_UNAUTHORIZED=0 node -e "for (...) { await pause(50 ms); await (await fetch(url)).text() }" (${count} fetches)`,
  },
  'node-fetch-sessions': {
    description:
      "Node's fetch as node-fetch, with `dispatcher: new undici.Agent({ connect: clientSessions().connector() })` (this package)",
    unavailable: () => undefined,
    run: async (port, count) => {
      await fetchChild(FETCH_SESSIONS_CLIENT, port, count, {
        UNDICI_PATH: require.resolve('undici'),
        TLS_RESUMPTION_PATH: path.resolve(__dirname, '../../../dist/index.js'),
      });
    },
    command: (count) =>
      `node -e "const dispatcher = new undici.Agent({ connect: clientSessions().connector() }); for (...) { await pause(50 ms); await (await fetch(url, { dispatcher })).text() }" (${count} fetches)`,
  },
};
