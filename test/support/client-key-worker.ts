// A process of the outbound cache's key tests (test/client/session-key-attacks.test.ts): Node
// reads NODE_TLS_REJECT_UNAUTHORIZED from the real environment, which a jest test cannot change,
// and objects keyed by identity must be tried in processes of their own. Argument: the path of a
// JSON file `{ port, store?, steps: [{ env?, identity?, options? }] }`. Each step sets or clears
// NODE_TLS_REJECT_UNAUTHORIZED (`env`: a string, or null to clear it), connects once through one
// cache (on the store at `store`, else in memory) to 127.0.0.1:<port> with servername localhost,
// and, with `identity` ({ key, cert }), a SecureContext built for it (the first object this process
// keys by identity). Prints the outcomes as one JSON array.
import * as fs from 'node:fs';
import * as tls from 'node:tls';

import { clientSessions } from '../../src/client';

interface Step {
  env?: string | null;
  identity?: { key: string; cert: string };
  options?: tls.ConnectionOptions;
}

const spec = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as { port: number; store?: string; steps: Step[] };
const sessions = clientSessions(spec.store ? { shared: { path: spec.store, sizeBytes: 1024 * 1024, slotBytes: 4096 } } : {});

function step(s: Step): Promise<{ error?: string; reused: boolean; authorized: boolean }> {
  if (s.env === null) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  else if (s.env !== undefined) process.env.NODE_TLS_REJECT_UNAUTHORIZED = s.env;
  const secureContext = s.identity ? tls.createSecureContext(s.identity) : undefined;
  return new Promise((resolve) => {
    const out: { error?: string; reused: boolean; authorized: boolean } = { reused: false, authorized: false };
    const socket = sessions.connect({ host: '127.0.0.1', port: spec.port, servername: 'localhost', secureContext, ...s.options });
    socket.on('secureConnect', () => {
      out.reused = socket.isSessionReused();
      out.authorized = socket.authorized;
    });
    socket.on('data', () => undefined);
    socket.on('error', (err: NodeJS.ErrnoException) => (out.error ??= err.code ?? err.message));
    socket.on('close', () => resolve(out));
  });
}

(async () => {
  const outcomes = [];
  for (const s of spec.steps) outcomes.push(await step(s));
  sessions.close();
  process.stdout.write(`${JSON.stringify(outcomes)}\n`);
})().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
