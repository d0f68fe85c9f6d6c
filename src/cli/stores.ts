/**
 * `tls-resumption stores list [--json]` and `tls-resumption stores remove NAME... [--force]`:
 * this user's named shared stores (`shared.name`), which outlive every process until removed or
 * the machine reboots.
 */
import { listSharedStores, removeSharedStore } from '../common/shared-store';
import { errorText, parseCommandArgs } from './args';

export const summary = "list or remove this user's named shared stores (they stay until removed or a reboot)";

const USAGE = `usage: tls-resumption stores list [--json]
       tls-resumption stores remove NAME... [--force]

  list       the named stores under /dev/shm/tls-resumption-<uid>/: size, capacity, layout,
             whether a process has it attached
  remove     remove the named stores (refused for a store a process has attached, unless --force)
  --force    remove even a store a process has attached (it keeps the removed file; processes
             that attach later start a new store)
`;

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('stores', USAGE, {
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [action, ...names] = positionals;
  if (action === 'list' && names.length === 0) {
    const stores = listSharedStores();
    if (values.json) {
      process.stdout.write(`${JSON.stringify(stores, null, 2)}\n`);
    } else if (stores.length === 0) {
      process.stdout.write('no named stores\n');
    } else {
      for (const s of stores) {
        process.stdout.write(
          `${s.name.padEnd(24)} ${mib(s.sizeBytes).padStart(10)}  ${String(s.capacity).padStart(9)} sessions  layout ${s.layoutVersion}  ${s.inUse ? 'in use' : 'unused'}  ${s.path}\n`,
        );
      }
    }
    return 0;
  }
  if (action === 'remove' && names.length > 0) {
    let status = 0;
    for (const name of names) {
      try {
        const removed = removeSharedStore(name, { force: values.force });
        if (removed) process.stdout.write(`removed ${name}\n`);
        else {
          process.stderr.write(`stores: no named store "${name}"\n`);
          status = 1;
        }
      } catch (err) {
        process.stderr.write(`stores: ${errorText(err).replace('pass { force: true }', 'pass --force')}\n`);
        status = 1;
      }
    }
    return status;
  }
  process.stderr.write(`stores: ${action ? `unexpected arguments for "${action}"` : 'missing action'}\n\n${USAGE}`);
  return 2;
}
