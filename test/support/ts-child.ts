/** Runs a TypeScript file of test/support in a plain node process (through ts-register.js), as a user's program would run. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const REGISTER = path.join(__dirname, 'ts-register.js');

export interface ChildOutput {
  code: number | null;
  out: string;
  err: string;
}

/** Runs test/support/<file> with `args`; resolves when it exits, with its exit code and everything it printed. */
export function runSupportChild(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildOutput> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', REGISTER, path.join(__dirname, file), ...args], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
