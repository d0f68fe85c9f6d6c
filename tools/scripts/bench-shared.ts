/**
 * Shared store benchmark. Run (after `npm run build:native`):
 *   npm run bench:shared -- [workers=2] [clients=40] [perClient=10]
 * 1. A real cluster (round robin), tickets off, TLS 1.2 and 1.3: resumption ratio after each
 *    client's first connection and server CPU per handshake summed over all workers (from
 *    /proc/<pid>/stat), for stock Node, a per-worker OpenSSL cache, and the shared store.
 * 2. The store alone: ns per lookup and per insert at 1k, 100k and 1M entries (O(1): flat).
 * Absolute numbers move from run to run on a shared machine; compare within one run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { population, startCluster } from '../../test/support/cluster';

/** The store's micro-benchmark module (tools/native/shared_store_bench.cc), not the library's addon. */
interface StoreBench {
  benchSharedStore(
    path: string,
    sizeBytes: number,
    slotBytes: number,
    entries: number,
    ops: number,
  ): {
    capacity: number;
    entries: number;
    fillNsPerInsert: number;
    lookupNs: number;
    insertNs: number;
    hitRatio: number;
  };
}
const storeBench = require(path.join(__dirname, '..', '..', 'build', 'Release', 'tls_resumption_store_bench.node')) as StoreBench;

const workers = Number(process.argv[2] ?? 2);
const clients = Number(process.argv[3] ?? 40);
const perClient = Number(process.argv[4] ?? 10);
const TICKS = 100; // USER_HZ on Linux

function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function clusterRun(mode: 'stock' | 'per-worker' | 'shared', version: 'TLSv1.2' | 'TLSv1.3') {
  const name = `bench-${process.pid}`;
  const env: Record<string, string> =
    mode === 'stock' ? { STOCK: '1' } : mode === 'shared' ? { SHARED_NAME: name, SHARED_SIZE: String(16 << 20) } : {};
  const run = await startCluster(workers, env);
  try {
    const pids = run.workers.map((w) => w.process.pid!);
    const before = pids.map(cpuTicks);
    const started = process.hrtime.bigint();
    const r = await population(() => run.port, version, clients, perClient);
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const cpuMs = pids.map(cpuTicks).reduce((sum, t, i) => sum + t - before[i]!, 0) * (1000 / TICKS);
    const handshakes = r.reconnects + clients;
    const shared = mode === 'shared' ? (await run.stats(run.workers[0]!)).shared : undefined;
    return {
      mode,
      version,
      ratio: +r.ratio.toFixed(3),
      handshakes,
      failed: r.failed,
      serverCpuUsPerHandshake: Math.round((cpuMs * 1000) / handshakes),
      wallMs: Math.round(wallMs),
      sharedHits: shared?.hits,
      lockWaits: shared?.lockWaits,
    };
  } finally {
    await run.stop();
    fs.rmSync(`/dev/shm/tls-resumption.${name}`, { force: true });
  }
}

async function main() {
  console.log(`cluster: ${workers} workers, ${clients} clients x ${perClient} connections, tickets off`);
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    for (const mode of ['stock', 'per-worker', 'shared'] as const) console.log(JSON.stringify(await clusterRun(mode, version)));
  }
  console.log('store alone (slotBytes 256, 150-byte sessions, 200k operations each):');
  for (const entries of [1_000, 100_000, 1_000_000]) {
    const file = `/dev/shm/tls-resumption.bench-store-${process.pid}`;
    const sizeBytes = 4096 + Math.ceil((entries * 1.25) / 16) * 16 * 272;
    try {
      const r = storeBench.benchSharedStore(file, sizeBytes, 256, entries, 200_000);
      console.log(
        JSON.stringify({
          entries,
          capacity: r.capacity,
          fileMiB: +(sizeBytes / 1048576).toFixed(1),
          bytesPerSession: 272,
          lookupNs: Math.round(r.lookupNs),
          insertNs: Math.round(r.insertNs),
          fillNsPerInsert: Math.round(r.fillNsPerInsert),
          hitRatio: +r.hitRatio.toFixed(3),
        }),
      );
    } finally {
      fs.rmSync(file, { force: true });
    }
  }
  console.log('nginx shared cache for comparison: about 4000 sessions per MiB (~256 bytes a session).');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
