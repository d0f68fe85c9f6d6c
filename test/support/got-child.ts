// A child process for the library tests: got is ESM only, and jest's sandbox can neither require
// it (ts-jest turns `import()` into `require`, which cannot parse got's ESM) nor import it (a real
// `import()` there needs --experimental-vm-modules). A plain node process imports it for real.
// argv: port, requests; the CA (PEM) in TLS_RESUMPTION_TEST_CA. Prints the cache's stats as JSON.
import { clientSessions } from '../../src/client';

type Got = (url: string, options: Record<string, unknown>) => { text(): Promise<string> };

// Kept from TypeScript, which would compile `import()` to `require()` for CommonJS output.
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<{ default: Got }>;

async function main(): Promise<void> {
  const [port, count] = process.argv.slice(2).map(Number) as [number, number];
  const { default: got } = await importModule('got');
  const sessions = clientSessions();
  const agent = sessions.agent({ keepAlive: false });
  for (let i = 0; i < count; i++) {
    // The CA as a got option: got hands it to https.request with its own fields, the agent to tls.connect.
    await got(`https://localhost:${port}/${i}`, {
      agent: { https: agent },
      https: { certificateAuthority: process.env.TLS_RESUMPTION_TEST_CA },
      retry: { limit: 0 },
    }).text();
  }
  process.stdout.write(JSON.stringify(sessions.stats()));
  sessions.close();
}
main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
