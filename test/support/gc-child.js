// Run with --expose-gc: attach to servers and contexts, drop every reference, collect, and
// keep handshaking on a server that is still alive. Prints {"resumed":N,"rounds":N}.
const tls = require('node:tls');
const path = require('node:path');
const { attach } = require(path.join(__dirname, '..', '..', 'dist'));
// The test certificate is not on the public entry.
const { selfSignedCertificate } = require(path.join(__dirname, '..', '..', 'dist', 'ops', 'certificate'));

const cert = selfSignedCertificate();
const NO_TICKET = require('node:constants').SSL_OP_NO_TICKET;

function handshake(port, session) {
  return new Promise((resolve, reject) => {
    let newest;
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, session, maxVersion: 'TLSv1.2' });
    let reused = false;
    s.on('secureConnect', () => (reused = s.isSessionReused()));
    s.on('session', (x) => (newest = x));
    s.on('data', () => {});
    s.on('error', reject);
    s.on('close', () => resolve({ reused, session: newest }));
  });
}

async function main() {
  const keeper = tls.createServer({ ...cert, secureOptions: NO_TICKET }, (s) => s.resume().end('ok'));
  attach(keeper);
  await new Promise((r) => keeper.listen(0, '127.0.0.1', r));
  const port = keeper.address().port;
  const rounds = 20;
  for (let i = 0; i < rounds; i++) {
    // Contexts and servers attached then abandoned; some after serving a connection.
    attach(tls.createSecureContext(cert), { cache: { size: 10 } });
    const doomed = tls.createServer({ ...cert, secureOptions: NO_TICKET }, (s) => s.resume().end('ok'));
    attach(doomed);
    if (i % 5 === 0) {
      await new Promise((r) => doomed.listen(0, '127.0.0.1', r));
      await handshake(doomed.address().port);
      await new Promise((r) => doomed.close(r));
    }
    global.gc();
    await new Promise((r) => setImmediate(r));
    global.gc();
  }
  let session;
  let resumed = 0;
  for (let i = 0; i < 5; i++) {
    const r = await handshake(port, session);
    if (r.reused) resumed++;
    session = r.session || session;
  }
  await new Promise((r) => keeper.close(r));
  process.stdout.write(JSON.stringify({ resumed, rounds }));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack));
  process.exit(1);
});
