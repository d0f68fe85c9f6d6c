/**
 * `tls-resumption inspect [--json]`: the OpenSSL Node runs, its providers and engines, CPU
 * crypto features, and Node's default session settings.
 */
import { parseArgs } from 'node:util';

import { formatInspectReport, inspectReport } from '../ops/inspect';

export const summary = "show Node's OpenSSL, providers, engines, CPU crypto features and default session settings";

export async function run(argv: string[]): Promise<number> {
  let json = false;
  try {
    json = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, strict: true }).values.json ?? false;
  } catch (err) {
    process.stderr.write(`inspect: ${(err as Error).message}\nusage: tls-resumption inspect [--json]\n`);
    return 2;
  }
  const report = inspectReport();
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatInspectReport(report));
  return 0;
}
