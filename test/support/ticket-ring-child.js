// Child process for the fromSecret test: a tls.Server whose ticket ring is derived from the
// secret in TSC_SECRET (hex). Loads the TypeScript sources through typescript's transpiler, so
// the test needs no build step. Prints the port, then serves until killed.
'use strict';
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

const secret = Buffer.from(process.env.TSC_SECRET, 'hex');
const ring = TicketKeyRing.fromSecret(secret, { rotateEverySeconds: 3600, keepKeys: 2 });
secret.fill(0);
const server = tlsServer();
const cache = attach(server, { tickets: { enabled: true, keyRing: ring } });
listen(server).then((port) => process.stdout.write(`${port}\n`));
process.on('message', (m) => {
  if (m === 'stats') process.send(cache.stats().tickets);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
