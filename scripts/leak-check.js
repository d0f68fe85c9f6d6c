#!/usr/bin/env node
// The traffic of `npm run leak-check` (scripts/leak-check.sh runs it under LeakSanitizer): about
// 50,000 TLS handshakes from the native load generator (a child process) against servers that
// attach and detach repeatedly, rotate ticket rings (fromSecret epochs and generate() rotations),
// share a store, flush, reconfigure and swap their secure context (setSecureContext), then drops
// everything, runs the garbage collector and exits so LeakSanitizer sees what was never freed.
//
// Usage: node --expose-gc scripts/leak-check.js [--handshakes N] [--rounds R]
// Loads the package from the current directory's dist/ and build/ (the leak-check build).

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const https = require('node:https');

const root = process.cwd();
const { attach, TicketKeyRing } = require(path.join(root, 'dist', 'index.js'));
const { selfSignedCertificate } = require(path.join(root, 'dist', 'ops', 'certificate.js'));
const { LoadgenProcess } = require(path.join(root, 'tools', 'dist', 'loadgen', 'index.js'));
const { sharedStorePath } = require(path.join(root, 'dist', 'common', 'shared-store.js'));

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const total = arg('--handshakes', 50000);
const rounds = arg('--rounds', 10);
const perRound = Math.ceil(total / rounds);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Everything that holds addon objects lives in this function's scope, so after it returns they
// are garbage and the collector can run their finalizers before exit.
async function traffic() {
  const cert = selfSignedCertificate('localhost');
  const storeName = `leak-check-${process.pid}`;
  const secret = crypto.randomBytes(32);
  // Keys rotate every second (fromSecret: new epoch; generate: timer), three kept: rotation and
  // key removal happen many times per round.
  const rings = [
    TicketKeyRing.fromSecret(secret, { rotateEverySeconds: 1, keepKeys: 3 }),
    TicketKeyRing.generate({ rotateEverySeconds: 1, keepKeys: 3 }),
  ];
  // The load generator's process is a client, not the code under test: it exits through
  // process.exit (no teardown), so LeakSanitizer would list everything Node and V8 still hold.
  const asanOptions = process.env.ASAN_OPTIONS;
  if (asanOptions !== undefined) process.env.ASAN_OPTIONS = `${asanOptions}:detect_leaks=0`;
  const lg = new LoadgenProcess();
  if (asanOptions !== undefined) process.env.ASAN_OPTIONS = asanOptions;
  const sum = {
    handshakes: 0,
    resumed: 0,
    failures: 0,
    attaches: 0,
    detaches: 0,
    rotations: 0,
    configures: 0,
    flushes: 0,
    contextSwaps: 0,
    failureReasons: {},
  };
  try {
    for (let round = 0; round < rounds; round++) {
      const ring = rings[round % 2];
      // https: answers after reading the request, as the load generator expects.
      const server = https.createServer({ key: cert.key, cert: cert.cert, sessionIdContext: `leak-${round % 3}` }, (_req, res) =>
        res.end('ok'),
      );
      server.on('tlsClientError', () => undefined);
      const options = () => ({
        cache: { size: 2000, timeoutSeconds: 300 },
        tickets: { enabled: true, tls13Count: 1 + (sum.attaches % 2), keyRing: ring },
        shared: { name: storeName, sizeBytes: 1 << 20 },
      });
      let cache = attach(server, options());
      sum.attaches++;
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const port = server.address().port;
      await lg.populate('p', {
        targets: [{ port }],
        clients: 400,
        kinds: { reuse: 0.4, once: 0.3, sessionId: 0.2, fresh: 0.1 },
        tls13: 0.5,
        seed: round + 1,
      });
      let running = true;
      // While the load runs: detach/attach, flush, reconfigure, swap the context, rotate.
      const churn = (async () => {
        for (let i = 0; running; i++) {
          await sleep(150);
          if (!running) break;
          if (i % 4 === 0) {
            cache.detach();
            sum.detaches++;
            cache = attach(server, options());
            sum.attaches++;
          } else if (i % 4 === 1) {
            cache.flush({ all: i % 8 === 1 });
            sum.flushes++;
          } else if (i % 4 === 2) {
            // fromSecret rings rotate on their own every second (a new epoch).
            if (ring.mode === 'generated') {
              ring.rotate();
              sum.rotations++;
            }
            sum.configures++;
            cache.configure({ cache: { size: 1000 + (i % 3) * 500 } });
          } else {
            server.setSecureContext({ key: cert.key, cert: cert.cert, sessionIdContext: `leak-${round % 3}` });
            sum.contextSwaps++;
          }
        }
      })();
      const report = await lg.run('p', { durationMs: 0, connections: perRound, concurrency: 8, timeoutMs: 10000 });
      running = false;
      await churn;
      sum.handshakes += report.handshakes;
      sum.resumed += report.resumed;
      sum.failures += report.failures;
      for (const [k, v] of Object.entries(report.failureReasons)) sum.failureReasons[k] = (sum.failureReasons[k] ?? 0) + v;
      cache.stats();
      cache.detach();
      sum.detaches++;
      await lg.drop('p');
      await new Promise((r) => server.close(r));
      process.stderr.write(
        `round ${round + 1}/${rounds}: ${report.handshakes} handshakes, ${report.resumed} resumed, ${report.failures} failed\n`,
      );
    }
  } finally {
    await lg.close();
    for (const r of rings) r.close();
    fs.rmSync(sharedStorePath(storeName), { force: true });
  }
  return sum;
}

async function main() {
  const sum = await traffic();
  // Let Node free closed sockets, secure contexts and ring handles: Node-API runs finalizers
  // after the collection, on a later turn of the event loop. What is still allocated at exit
  // after this is what LeakSanitizer reports.
  for (let i = 0; i < 6; i++) {
    global.gc?.();
    await sleep(50);
    await new Promise((r) => setImmediate(r));
  }
  process.stdout.write(`${JSON.stringify(sum)}\n`);
  if (sum.handshakes < total * 0.95) {
    process.stderr.write(`leak-check: only ${sum.handshakes} of ${total} handshakes completed\n`);
    process.exitCode = 2;
  }
}

main().catch((err) => {
  process.stderr.write(`leak-check: ${err?.stack ? err.stack : err}\n`);
  process.exitCode = 2;
});
