/**
 * The outbound benchmarks end to end on a tiny setting: the gateway (a real 2-worker cluster,
 * a Node upstream in its own process, workers restarted) and psk_ke (a server with
 * tickets.pskKe). Checks the output's shape and sanity, never speed.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { ensureDist, repoRoot } from '../../test/support/build';
import type { GatewayPhase, GatewayRow } from '../src/bench/gateway';
import type { PskKeResult } from '../src/bench/psk-ke';

jest.setTimeout(120_000);
beforeAll(() => ensureDist());

function runTool(name: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [path.join(repoRoot, 'tools', 'dist', 'bench', `${name}.js`), ...args], {
    encoding: 'utf8',
    timeout: 100_000,
  });
}

function expectSanePhase(p: GatewayPhase): void {
  expect(p.connections).toBeGreaterThanOrEqual(3);
  for (const ratio of [p.resumed, p.resumedFirst]) {
    expect(ratio).toBeGreaterThanOrEqual(0);
    expect(ratio).toBeLessThanOrEqual(1);
  }
  // /proc counts CPU in 10 ms ticks: a phase of a few connections may read 0.
  for (const cpu of [p.clientCpuMicrosPerConnection, p.upstreamCpuMicrosPerConnection]) {
    expect(Number.isFinite(cpu)).toBe(true);
    expect(cpu).toBeGreaterThanOrEqual(0);
  }
  expect(p.connectP50Ms).toBeGreaterThan(0);
  expect(p.connectP99Ms).toBeGreaterThanOrEqual(p.connectP50Ms);
  expect(p.errors).toBe(0);
}

test('gateway: 3 hosts, stock and cached clients, a restart; the cache resumes across workers and the restart, stock does not', () => {
  const r = runTool('gateway', [
    '--hosts',
    '3',
    '--min-requests',
    '6',
    '--concurrency',
    '2',
    '--upstreams',
    'node',
    '--clients',
    'agent,agent+cache,fetch+cache',
    '--json',
  ]);
  expect(r.stderr).not.toMatch(/bench:gateway:/);
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout) as { node: string; rows: GatewayRow[] };
  expect(out.node).toBe(process.version);
  expect(out.rows.map((row) => row.client)).toEqual(['agent', 'agent+cache', 'fetch+cache']);
  for (const row of out.rows) {
    expect(row).toMatchObject({ upstream: 'node', hosts: 3 });
    expectSanePhase(row.warm);
    expectSanePhase(row.afterRestart);
    if (row.client.endsWith('+cache')) {
      // One store file for both workers and their successors: every returning connection resumes.
      expect(row.warm.resumedFirst).toBe(1);
      expect(row.afterRestart.resumedFirst).toBe(1);
    } else {
      // Stock clients keep sessions per process: nothing survives the restart.
      expect(row.afterRestart.resumedFirst).toBe(0);
    }
  }
});

test('psk-ke: a few resumed connections per mode; the JSON has both modes and their ratio', () => {
  const r = runTool('psk-ke', ['--connections', '20', '--pairs', '2', '--groups', 'X25519', '--json']);
  const [major, minor] = process.versions.openssl.split('.').map(Number) as [number, number];
  if (major < 3 || (major === 3 && minor < 3)) {
    // Node 20 (OpenSSL 3.0): the server cannot prefer psk_ke; the tool says so and fails.
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/OpenSSL 3\.3/);
    return;
  }
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout) as PskKeResult;
  expect(out).toMatchObject({ node: process.version, connections: 20, pairs: 2, groups: 'X25519' });
  for (const mode of ['psk_ke', 'psk_dhe_ke'] as const) {
    const m = out.modes[mode];
    expect(m.connections).toBe(40);
    expect(m.resumed).toBeGreaterThanOrEqual(0.9);
    expect(m.resumed).toBeLessThanOrEqual(1);
    expect(m.serverCpuMicrosPerConnection).toBeGreaterThanOrEqual(0);
  }
  // With a classic group the mode shows per connection: an (EC)DH key only where one ran.
  expect(out.modes.psk_dhe_ke.keyExchange).toEqual(['ECDH X25519']);
  expect(out.modes.psk_ke.keyExchange.some((k) => k.startsWith('ECDH'))).toBe(false);
  // Each mode's CPU over 40 connections is a few 10 ms ticks: the ratio is a number, not a measurement.
  expect(typeof out.ratio).toBe('number');
});
