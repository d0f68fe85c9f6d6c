#!/usr/bin/env node
/**
 * `tls-resumption <command>`: each command lives in its own module under src/cli/ and exports
 * `run(argv: string[]): Promise<number>` (the exit code). This file only dispatches.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';

interface Command {
  run(argv: string[]): Promise<number>;
  /** One line for the command list. */
  summary: string;
}

function commands(): string[] {
  return fs
    .readdirSync(__dirname)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('main.') && !f.startsWith('args.'))
    .map((f) => f.replace(/\.(js|ts)$/, ''))
    .filter((v, i, a) => a.indexOf(v) === i)
    .sort();
}

function usage(): string {
  const lines = commands().map((name) => {
    const cmd = require(path.join(__dirname, name)) as Command;
    return `  ${name.padEnd(10)} ${cmd.summary}`;
  });
  return `usage: tls-resumption <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (!commands().includes(name)) {
    process.stderr.write(`tls-resumption: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const cmd = require(path.join(__dirname, name)) as Command;
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`tls-resumption: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
