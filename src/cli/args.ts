/**
 * The commands' argument parsing, one convention: node:util parseArgs with the command's own
 * config; a parse error prints `<command>: <message>` and the usage and exits 2; `--help` prints
 * the usage and exits 0.
 * @returns the parsed arguments, or the exit code when the command should stop here.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export function parseCommandArgs<T extends ParseArgsConfig>(
  command: string,
  usage: string,
  config: T,
): ReturnType<typeof parseArgs<T>> | number {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    process.stderr.write(`${command}: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(usage);
    return 0;
  }
  return parsed;
}
