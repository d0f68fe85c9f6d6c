/**
 * What `tls-resumption inspect` reports: the OpenSSL inside Node, its providers and engines,
 * the CPU crypto features OpenSSL uses, and Node's default session settings on a fresh server.
 */
import * as tls from 'node:tls';
import { native } from '../common/native';
import { externalOf, serverContext } from '../common/target';
import { attach } from '../server/attach';
import type { ResolvedOptions } from '../server/options';
import type { SettingsStats } from '../server/stats';
import { selfSignedCertificate } from './certificate';
import { type EngineInfo, engines, type OpenSslInfo, opensslInfo, type ProviderInfo, providers } from './providers';

/**
 * Session settings as Node leaves them on a new tls.Server, read back from OpenSSL: the shape
 * `stats().settings` has (on Node: mode CLIENT|SERVER|NO_INTERNAL|NO_AUTO_CLEAR = 0x383, internal
 * cache off, psk_ke off).
 */
export type NodeSessionDefaults = SettingsStats;

/** Everything `inspect` prints. */
export interface InspectReport {
  node: string;
  openssl: OpenSslInfo;
  providers: ProviderInfo[];
  engines: EngineInfo[];
  /** Node's own settings on a new tls.Server. */
  nodeDefaults: NodeSessionDefaults;
  /** What `attach(server)` applies with no options. */
  attachDefaults: ResolvedOptions;
}

/** Reads Node's default session settings from a tls.Server that never listens. */
export function nodeSessionDefaults(): { nodeDefaults: NodeSessionDefaults; attachDefaults: ResolvedOptions } {
  const cert = selfSignedCertificate('localhost', 1);
  const server = tls.createServer({ key: cert.key, cert: cert.cert });
  const handle = native.attach(externalOf(serverContext(server)));
  let raw;
  try {
    raw = native.nodeDefaults(handle);
  } finally {
    native.detach(handle);
  }
  const cache = attach(server);
  const attachDefaults = cache.options;
  cache.detach();
  const enabled = (raw.mode & 0x2) !== 0 && (raw.mode & 0x300) !== 0x300;
  return {
    nodeDefaults: {
      cache: { mode: raw.mode, enabled, size: raw.size, timeoutSeconds: raw.timeoutSeconds },
      tickets: { enabled: raw.ticketsEnabled, tls13Count: raw.tls13Count, pskKe: raw.pskKe },
    },
    attachDefaults,
  };
}

export function inspectReport(): InspectReport {
  return { node: process.version, openssl: opensslInfo(), providers: providers(), engines: engines(), ...nodeSessionDefaults() };
}

export function formatInspectReport(r: InspectReport): string {
  const o = r.openssl;
  const d = r.nodeDefaults;
  const a = r.attachDefaults;
  const lines = [
    `Node ${r.node}, ${o.version}`,
    `  ${o.platform}; ${o.builtOn}`,
    `  ${o.dir}; ${o.modulesDir}; ${o.enginesDir}`,
    'Providers (default library context):',
    ...r.providers.map((p) => `  ${p.name.padEnd(10)} ${p.description} ${p.version}${p.active ? '' : ' (not active)'}`),
    'Engines:',
    ...(r.engines.length ? r.engines.map((e) => `  ${e.id.padEnd(10)} ${e.name}`) : ['  (none)']),
    'CPU crypto features OpenSSL uses:',
    `  ${o.cpu.features.join(' ') || '(none decoded)'}`,
    `  ${o.cpu.raw}`,
    'Node defaults on a new tls.Server:',
    `  session cache   mode 0x${d.cache.mode.toString(16)} (internal cache ${d.cache.enabled ? 'on' : 'off'}), size ${d.cache.size}, timeout ${d.cache.timeoutSeconds} s`,
    `  tickets         ${d.tickets.enabled ? 'on' : 'off'}, ${d.tickets.tls13Count} per TLS 1.3 handshake`,
    'attach(server) with no options applies:',
    `  session cache   ${a.cache.enabled ? 'on' : 'off'}, size ${a.cache.size}, timeout ${a.cache.timeoutSeconds} s`,
    `  tickets         ${a.tickets.enabled ? 'on' : 'off'}, ${a.tickets.tls13Count} per TLS 1.3 handshake`,
  ];
  return `${lines.join('\n')}\n`;
}
