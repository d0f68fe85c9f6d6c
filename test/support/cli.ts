/** Runs the built CLI (dist/cli/main.js, made by `npm run pretest`) as a user would. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

export const CLI_MAIN = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

export function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
