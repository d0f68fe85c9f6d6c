// Processes for the shared client cache tests. `cluster <workers> <port> <count> <store>`: a
// cluster primary whose workers each make <count> connections to the upstream at <port> through
// one shared cache (a store name, or an absolute path), all at once, and report their stats as
// JSON lines. `once <port,port,...> <count> <store>`: one process doing the same alone, to each
// port in turn (a restart is two of these in a row).
import cluster from 'node:cluster';

import { clientSessions } from '../../src/client';

const [mode, ...rest] = process.argv.slice(2);

function storeOption(store: string) {
  return { ...(store.startsWith('/') ? { path: store } : { name: store }), sizeBytes: 1024 * 1024, slotBytes: 2048 };
}

async function run(ports: number[], count: number, store: string): Promise<unknown> {
  const sessions = clientSessions({ shared: storeOption(store) });
  for (let i = 0; i < count * ports.length; i++) {
    const port = ports[i % ports.length];
    await new Promise<void>((resolve) => {
      const socket = sessions.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
      socket.on('secureConnect', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    });
  }
  const stats = sessions.stats();
  sessions.close();
  return stats;
}

async function main(): Promise<void> {
  if (mode === 'once') {
    const [port, count, store] = rest as [string, string, string];
    process.stdout.write(`${JSON.stringify(await run(port.split(',').map(Number), Number(count), store))}\n`);
    return;
  }
  const [workers, port, count, store] = rest as [string, string, string, string];
  if (cluster.isPrimary) {
    const results: unknown[] = [];
    let ready = 0;
    for (let i = 0; i < Number(workers); i++) {
      const w = cluster.fork();
      w.on('message', (m) => {
        if (m !== 'ready') results.push(m);
        // Every worker starts at once, so they contend for the same tickets.
        else if (++ready === Number(workers)) for (const each of Object.values(cluster.workers ?? {})) each?.send('go');
      });
    }
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.stdout.write(`${JSON.stringify(results)}\n`);
    });
  } else {
    process.once('message', async () => {
      process.send!(await run([Number(port)], Number(count), store));
      process.disconnect();
    });
    process.send!('ready');
  }
}
main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
