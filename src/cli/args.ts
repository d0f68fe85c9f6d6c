/**
 * The commands' argument parsing, one convention: node:util parseArgs with the command's own
 * config; a parse error prints `<command>: <message>` and the usage and exits 2; `--help` prints
 * the usage and exits 0.
 * @returns the parsed arguments, or the exit code when the command should stop here.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

import { ErrorCodes } from '../common/validate';

/** The codes of a refused argument: a command reports them as a usage error (exit code 2). */
const BAD_ARGUMENT_CODES: readonly unknown[] = [
  ErrorCodes.invalidType,
  ErrorCodes.outOfRange,
  ErrorCodes.invalidValue,
  ErrorCodes.unknownOption,
];

/** Whether the API refused an argument the command passed on (rather than failing at its work). */
export function isBadArgument(err: unknown): err is Error {
  return BAD_ARGUMENT_CODES.includes((err as { code?: unknown } | null)?.code);
}

/** An error's message for stderr, with its `code` so a script can tell failures apart. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_') ? `${err.message} (${code})` : err.message;
}

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
