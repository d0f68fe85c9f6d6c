#!/usr/bin/env node
import * as fs from 'node:fs';
/**
 * `tls-resumption <command>`: each command lives in its own module under src/cli/ and exports
 * `run(argv: string[]): Promise<number>` (the exit code). This file only dispatches; the
 * repository's tools (tools/src/cli/main.ts) dispatch their own folder with the same function.
 */
import * as path from 'node:path';

import { errorText } from './args';

interface Command {
  run(argv: string[]): Promise<number>;
  /** One line for the command list. */
  summary: string;
}

function commands(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('main.') && !f.startsWith('args.'))
    .map((f) => f.replace(/\.(js|ts)$/, ''))
    .filter((v, i, a) => a.indexOf(v) === i)
    .sort();
}

function usage(prog: string, dir: string): string {
  const lines = commands(dir).map((name) => {
    const cmd = require(path.join(dir, name)) as Command;
    return `  ${name.padEnd(10)} ${cmd.summary}`;
  });
  return `usage: ${prog} <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

/** Commands that moved to the repository's tools (they are not part of the installed package). */
const TOOLS: Record<string, string> = { bench: 'the benchmark', loadgen: 'the load generator' };

async function dispatch(prog: string, dir: string, argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    // dist/cli/main.js -> the package's own package.json (in a clone and when installed).
    process.stdout.write(`${(require(path.join(dir, '..', '..', 'package.json')) as { version: string }).version}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage(prog, dir));
    return name ? 0 : 2;
  }
  if (!commands(dir).includes(name)) {
    const moved = prog === 'tls-resumption' ? TOOLS[name] : undefined;
    const hint = moved
      ? `${moved} is development tooling: in a clone of the repository run "npx tls-resumption-tools ${name}"\n`
      : `\n${usage(prog, dir)}`;
    process.stderr.write(`${prog}: unknown command "${name}"${moved ? '; ' : '\n'}${hint}`);
    return 2;
  }
  const cmd = require(path.join(dir, name)) as Command;
  return cmd.run(rest);
}

/** Runs `prog <command>` over the command modules in `dir` and sets the process's exit code. */
export function runCli(prog: string, dir: string, argv: string[]): void {
  dispatch(prog, dir, argv).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`${prog}: ${errorText(err)}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) runCli('tls-resumption', __dirname, process.argv.slice(2));
