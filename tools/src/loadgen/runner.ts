/**
 * Child-process entry of the load generator (started by `LoadgenProcess`). Holds named client
 * populations and runs phases on them when the parent asks, so the clients' CPU is never
 * counted in a measured server's process.
 */
import { type LoadReport, Population } from './population';
import type { RunnerReply, RunnerRequest } from './process';

const populations = new Map<string, Population>();

function send(message: RunnerReply): void {
  process.send?.(message);
}

async function handle(req: RunnerRequest): Promise<unknown> {
  switch (req.op) {
    case 'populate': {
      const p = new Population(req.options);
      populations.set(req.name, p);
      return p.describe();
    }
    case 'run': {
      const p = populations.get(req.name);
      if (!p) throw new Error(`no population named "${req.name}"`);
      return p.run(req.phase, (second: LoadReport) => send({ id: req.id, second }));
    }
    case 'forget':
      populations.get(req.name)?.forget();
      return undefined;
    case 'drop':
      populations.delete(req.name);
      return undefined;
    case 'close':
      setImmediate(() => process.disconnect?.());
      return undefined;
  }
}

process.on('message', (req: RunnerRequest) => {
  handle(req).then(
    (value) => send({ id: req.id, ok: true, value }),
    (err: unknown) => send({ id: req.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
