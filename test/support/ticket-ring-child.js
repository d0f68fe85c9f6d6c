// Child process (or cluster worker) for the fromSecret tests: a tls.Server whose ticket ring is
// derived from the secret in TSC_SECRET (hex), or random per process with TSC_RING=generate. Loads the TypeScript sources through typescript's transpiler, so
// the test needs no build step. Prints the port, then serves until killed.

const fs = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  module._compile(out.outputText, filename);
};
const path = require('node:path');
const { attach, TicketKeyRing } = require(path.join(__dirname, '../../src/index.ts'));
const { tlsServer, listen } = require(path.join(__dirname, 'tls.ts'));

let ring;
if (process.env.TSC_RING === 'generate') {
  ring = TicketKeyRing.generate();
} else {
  const secret = Buffer.from(process.env.TSC_SECRET, 'hex');
  ring = TicketKeyRing.fromSecret(secret, { rotateEverySeconds: 3600, keepKeys: 2 });
  secret.fill(0);
}
const server = tlsServer();
const cache = attach(server, { tickets: { enabled: true, keyRing: ring } });
listen(server).then((port) => {
  if (!require('node:cluster').isWorker) process.stdout.write(`${port}\n`);
});
process.on('message', (m) => {
  if (m === 'stats') process.send(cache.stats().tickets);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
