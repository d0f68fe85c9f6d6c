/**
 * `tls-resumption-tools loadgen`: the native load generator against any TLS/HTTPS server (yours,
 * nginx, ...), with a line per second and totals; `--pid` adds that server's CPU per handshake
 * from /proc (its process tree). The clients run in a forked process of their own.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { LoadReport, LoadTarget } from '../loadgen/population';
import { LoadgenProcess } from '../loadgen/process';
import { processTree, processTreeCpuMicros } from '../loadgen/procfs';
import { parseKinds } from './bench';

export const summary = 'drive a TLS server with the native load generator (client populations, per-second figures)';

const HELP = `usage: tls-resumption-tools loadgen --target HOST:PORT[,HOST:PORT...] [options]

  --target LIST       IPv4 host:port (or just a port on 127.0.0.1); clients are placed at random
  --per-connection    with several targets: every connection picks a target at random (a load
                      balancer in front of a fleet) instead of each client staying on its own
  --clients N         simulated clients (default 200)
  --kinds LIST        e.g. reuse=0.5,once=0.5 (kinds: reuse, once, sessionId, fresh; default reuse=1)
  --tls13 SHARE       share of TLS 1.3 clients, 0..1 (default 0.5)
  --servername NAME   SNI to send (default none)
  --duration SECONDS  how long (default 10)
  --connections N     stop after N connections instead (default: no limit)
  --concurrency C     closed-loop connections in flight (default 8)
  --rate R            open loop: connections started per second (default 0 = closed loop)
  --warmup            every client connects once first (unmeasured), so it holds a session
  --pid PID           also report that server's CPU per handshake (its process tree, /proc)
  --json FILE         write totals and per-second figures as JSON
`;

function num(flag: string, raw: string | undefined, def: number, min: number, max: number, integer: boolean): number {
  if (raw === undefined) return def;
  const v = Number(raw);
  if (raw.trim() === '' || Number.isNaN(v) || (integer && !Number.isInteger(v)))
    throw new TypeError(`--${flag} must be ${integer ? 'an integer' : 'a number'}, got "${raw}".`);
  if (v < min || v > max) throw new RangeError(`--${flag} must be between ${min} and ${max}, got ${v}.`);
  return v;
}

function targets(raw: string): LoadTarget[] {
  return raw.split(',').map((t) => {
    const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5})$/.exec(t.trim());
    if (!m) throw new TypeError(`--target: expected HOST:PORT with an IPv4 host, or a port, got "${t}".`);
    return { host: m[1] ?? '127.0.0.1', port: num('target port', m[2], 0, 1, 65535, true) };
  });
}

function line(s: LoadReport, cpuPerHandshake: number | undefined): string {
  const rate = (s.handshakes * 1000) / Math.max(1, s.intervalMs);
  const resumed = s.handshakes ? (100 * s.resumed) / s.handshakes : 0;
  const l = s.latencyMicros;
  const cpu = cpuPerHandshake === undefined ? '' : `  server ${Math.round(cpuPerHandshake)} µs/hs`;
  const fails = s.failures
    ? `  failures ${s.failures} (${Object.entries(s.failureReasons)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')})`
    : '';
  return `${(s.elapsedMs / 1000).toFixed(1).padStart(6)} s  ${String(s.handshakes).padStart(6)} hs (${Math.round(rate)}/s)  full ${s.full}  resumed ${s.resumed} (${resumed.toFixed(1)}%)  p50/p90/p99 ${(l.p50 / 1000).toFixed(2)}/${(l.p90 / 1000).toFixed(2)}/${(l.p99 / 1000).toFixed(2)} ms${cpu}${fails}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      clients: { type: 'string' },
      kinds: { type: 'string' },
      tls13: { type: 'string' },
      servername: { type: 'string' },
      'per-connection': { type: 'boolean' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      warmup: { type: 'boolean' },
      pid: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.target) {
    process.stderr.write(HELP);
    return 2;
  }
  const connections = num('connections', values.connections, 0, 1, Number.MAX_SAFE_INTEGER, true);
  const durationMs =
    values.connections !== undefined && values.duration === undefined
      ? 0
      : Math.round(num('duration', values.duration, 10, 0.5, 86400, false) * 1000);
  const pid = values.pid === undefined ? undefined : num('pid', values.pid, 0, 1, 2 ** 31, true);
  const population = {
    targets: targets(values.target),
    clients: num('clients', values.clients, 200, 1, 1_000_000, true),
    kinds: values.kinds === undefined ? { reuse: 1 } : parseKinds(values.kinds),
    tls13: num('tls13', values.tls13, 0.5, 0, 1, false),
    ...(values.servername !== undefined ? { servername: values.servername } : {}),
    placement: values['per-connection'] ? ('connection' as const) : ('client' as const),
  };
  const phase = {
    durationMs,
    connections,
    concurrency: num('concurrency', values.concurrency, 8, 1, 512, true),
    rate: num('rate', values.rate, 0, 0, 1_000_000, false),
  };
  if (pid !== undefined && !fs.existsSync(`/proc/${pid}/stat`)) throw new RangeError(`--pid: no process ${pid}.`);

  const lg = new LoadgenProcess();
  try {
    await lg.populate('cli', population);
    if (values.warmup) {
      const w = await lg.run('cli', { sweep: true, durationMs: 0, concurrency: phase.concurrency });
      process.stdout.write(`warm-up: ${w.handshakes} handshakes, ${w.failures} failures\n`);
    }
    const cpu = () => (pid === undefined ? 0 : processTreeCpuMicros(processTree(pid)));
    let lastCpu = cpu();
    const startCpu = lastCpu;
    const perSecond: (LoadReport & { serverCpuMicros?: number })[] = [];
    const total = await lg.run('cli', phase, (s) => {
      const now = cpu();
      const used = now - lastCpu;
      lastCpu = now;
      perSecond.push(pid === undefined ? s : { ...s, serverCpuMicros: used });
      // The last interval can be a few milliseconds long: kept in the JSON, not worth a line.
      if (s.intervalMs >= 100) process.stdout.write(`${line(s, pid !== undefined && s.handshakes ? used / s.handshakes : undefined)}\n`);
    });
    const serverCpuMicros = pid === undefined ? undefined : cpu() - startCpu;
    process.stdout.write(
      `total ${line(total, serverCpuMicros !== undefined && total.handshakes ? serverCpuMicros / total.handshakes : undefined)}\n`,
    );
    if (values.json)
      fs.writeFileSync(values.json, `${JSON.stringify({ population, phase, total, serverCpuMicros, perSecond }, null, 2)}\n`);
    return total.handshakes > 0 ? 0 : 1;
  } finally {
    await lg.close();
  }
}
