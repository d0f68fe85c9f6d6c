/**
 * The soak's command line: `npm run soak -- [flags]` (what each does: main.ts).
 */

/** Command-line settings of a soak run. */
export interface SoakOptions {
  /** Length of the load, seconds. Default 600 (`--minutes 10`). */
  seconds: number;
  workers: number;
  killEverySeconds: number;
  rotateEverySeconds: number;
  flushEverySeconds: number;
  sampleEverySeconds: number;
  /** Samples before this are warm-up and not judged. Default: a tenth of the run, at least 5 s. */
  warmupSeconds: number;
  /** Connections per second the load generator starts. */
  rate: number;
  clients: number;
  /** Allowed growth of mean RSS, last third vs first third (long-lived processes), MiB. */
  maxRssGrowthMiB: number;
  /**
   * Who accepts connections: 'none' (default; every worker accepts on the shared socket, the
   * primary holds no connection) or 'rr' (Node's round robin: the primary accepts and hands each
   * socket to a worker). With 'rr', Node's primary keeps the fd of a socket whose handoff was in
   * flight when the worker was SIGKILLed (docs/hardening.md), so its fd count grows with kills.
   */
  schedule: 'none' | 'rr';
  /** Control run: workers are not attached (stock Node, no ring, no shared store). */
  stock: boolean;
  /** The store's faults instead of SIGKILLs (faults.ts): a full tmpfs at start, a SIGSTOP, graceful restarts. */
  faults: boolean;
  json: boolean;
}

/** Parses the flags; RangeError naming the flag and its range. */
export function parseArgs(argv: string[]): SoakOptions {
  const o: SoakOptions = {
    seconds: 600,
    workers: 3,
    killEverySeconds: 30,
    rotateEverySeconds: 15,
    flushEverySeconds: 7,
    sampleEverySeconds: 2,
    warmupSeconds: -1,
    rate: 300,
    clients: 2000,
    maxRssGrowthMiB: 24,
    schedule: 'none',
    stock: false,
    faults: false,
    json: false,
  };
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new RangeError(`${flag} must be a number from ${min} to ${max}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--minutes': o.seconds = num(flag, next(), 0.1, 1440) * 60; break;
      case '--seconds': o.seconds = num(flag, next(), 5, 86400); break;
      case '--workers': o.workers = num(flag, next(), 2, 64); break;
      case '--kill-every': o.killEverySeconds = num(flag, next(), 1, 86400); break;
      case '--rotate-every': o.rotateEverySeconds = num(flag, next(), 0.5, 86400); break;
      case '--flush-every': o.flushEverySeconds = num(flag, next(), 0.5, 86400); break;
      case '--sample-every': o.sampleEverySeconds = num(flag, next(), 0.2, 600); break;
      case '--warmup': o.warmupSeconds = num(flag, next(), 0, 86400); break;
      case '--rate': o.rate = num(flag, next(), 1, 100000); break;
      case '--clients': o.clients = num(flag, next(), 1, 1000000); break;
      case '--max-rss-growth-mib': o.maxRssGrowthMiB = num(flag, next(), 0, 1 << 20); break;
      case '--json': o.json = true; break;
      case '--stock': o.stock = true; break;
      case '--faults': o.faults = true; break;
      case '--schedule': {
        const v = next();
        if (v !== 'none' && v !== 'rr') throw new RangeError(`--schedule must be none or rr, got ${v}`);
        o.schedule = v;
        break;
      }
      default: throw new RangeError(`unknown option ${flag} (see tools/src/soak/main.ts)`);
    }
  }
  if (o.warmupSeconds < 0) o.warmupSeconds = Math.max(5, o.seconds / 10);
  if (o.warmupSeconds >= o.seconds) throw new RangeError('--warmup must be shorter than the run');
  return o;
}
