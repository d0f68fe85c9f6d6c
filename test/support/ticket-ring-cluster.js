// Cluster primary for the fromSecret test: forks TSC_WORKERS workers running
// ticket-ring-child.js (each attaches its own ring), prints the shared port once all listen.

const cluster = require('node:cluster');
const path = require('node:path');

const count = Number(process.env.TSC_WORKERS || 2);
cluster.schedulingPolicy = cluster.SCHED_RR; // connections alternate between workers
cluster.setupPrimary({ exec: path.join(__dirname, 'ticket-ring-child.js'), silent: false });
let listening = 0;
cluster.on('listening', (_worker, address) => {
  if (++listening === count) process.stdout.write(`${address.port}\n`);
});
for (let i = 0; i < count; i++) cluster.fork();
process.on('SIGTERM', () => {
  for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
  cluster.disconnect(() => process.exit(0));
});
