/**
 * `tls-resumption probe HOST:PORT [--servername NAME] [--connections N] [--timeout MS] [--json]`
 * `tls-resumption probe A_HOST:PORT B_HOST:PORT [--servername NAME] [--timeout MS] [--json]`
 */

import { rangeError } from '../common/validate';
import { formatFleetReport, formatProbeReport, probe, probeFleet } from '../ops/probe';
import { isBadArgument, parseCommandArgs } from './args';

export const summary = 'probe any TLS server (or two of a fleet): session IDs, tickets, TLS 1.3 tickets, lifetime hints, renewal';

const USAGE = `usage: tls-resumption probe HOST:PORT [--servername NAME] [--connections N] [--timeout MS] [--json]
       tls-resumption probe A_HOST:PORT B_HOST:PORT [--servername NAME] [--timeout MS] [--json]

Connects several times per protocol version (TLS 1.2, TLS 1.3) and reports whether the server
resumes by session ID, by ticket, by TLS 1.3 ticket, for single-use ticket clients, its ticket
lifetime hint, tickets per handshake and whether resumed connections get renewed tickets.
With two endpoints: a session issued by A is offered to B and one issued by B to A, by
session ID, TLS 1.2 ticket and TLS 1.3 ticket, each beside a control (does the issuer resume its
own?), with what the wire showed and a one-line verdict ("different ticket keys or session-ID
contexts", "no shared session cache").
Certificates are not verified.
`;

/** Splits "host:port" or "[v6]:port". */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('probe', USAGE, {
    args: argv,
    options: {
      servername: { type: 'string' },
      connections: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const targets = positionals.length === 1 || positionals.length === 2 ? positionals.map(parseHostPort) : [];
  const target = targets[0];
  if (!target || targets.some((t) => t === undefined)) {
    process.stderr.write(`probe: expected one HOST:PORT, or two for a fleet (port 1 to 65535)\n\n${USAGE}`);
    return 2;
  }
  const toInt = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw rangeError(`--${name}`, 'a whole number', JSON.stringify(v));
    return Number(v);
  };
  try {
    if (targets.length === 2) {
      const servername = values.servername;
      const report = await probeFleet(
        { ...target, servername },
        { ...targets[1]!, servername },
        { timeoutMs: toInt('timeout', values.timeout) },
      );
      process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatFleetReport(report));
      return report.pairs.some((p) => p.aToB.issued || p.bToA.issued) ? 0 : 1;
    }
    const report = await probe(target.host, target.port, {
      servername: values.servername,
      connections: toInt('connections', values.connections),
      timeoutMs: toInt('timeout', values.timeout),
    });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatProbeReport(report));
    return report.tls12.supported || report.tls13.supported ? 0 : 1;
  } catch (err) {
    if (isBadArgument(err)) {
      // The API names its options; the user typed flags.
      const message = err.message
        .replace(/"timeoutMs"/g, '"--timeout"')
        .replace(/"connections"/g, '"--connections"')
        .replace(/"servername"/g, '"--servername"');
      process.stderr.write(`probe: ${message}\n`);
      return 2;
    }
    throw err;
  }
}
