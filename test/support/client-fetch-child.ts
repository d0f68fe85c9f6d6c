// A child process for the client cache tests: global fetch() through undici's
// setGlobalDispatcher (jest's sandbox has its own globalThis, which Node's fetch does not read).
// argv: port, requests. Prints the cache's stats as JSON.
import * as undici from 'undici';

import { clientSessions } from '../../src/client';

async function main(): Promise<void> {
  const [port, count] = process.argv.slice(2).map(Number) as [number, number];
  const sessions = clientSessions();
  undici.setGlobalDispatcher(new undici.Agent({ connect: sessions.connector({ rejectUnauthorized: false, maxVersion: 'TLSv1.2' }) }));
  for (let i = 0; i < count; i++) await (await fetch(`https://localhost:${port}/`)).text();
  process.stdout.write(JSON.stringify(sessions.stats()));
  await undici.getGlobalDispatcher().close();
}
main().catch((err) => {
  process.stderr.write(String(err?.cause ?? err));
  process.exit(1);
});
