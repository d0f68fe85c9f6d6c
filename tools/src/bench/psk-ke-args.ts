/** Command-line arguments shared by the two modes of `bench:psk-ke` (psk-ke.ts, psk-ke-handshake.ts). */

/** `--groups X25519`: the client's groups (default: Node's, X25519MLKEM768 on Node 22, 24 and 26: OpenSSL 3.5). */
export function groupsArg(): string | undefined {
  const i = process.argv.indexOf('--groups');
  return i < 0 ? undefined : process.argv[i + 1];
}

/** `--<name> N`: an integer from 1 to 1000000, `fallback` when absent. */
export function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1 || v > 1_000_000)
    throw new RangeError(`--${name} must be an integer between 1 and 1000000, got ${process.argv[i + 1]}.`);
  return v;
}
