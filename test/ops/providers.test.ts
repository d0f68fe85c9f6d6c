import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { inspectReport } from '../../src/ops/inspect';
import { decodeCpuInfo, engines, loadProvider, opensslInfo, providers } from '../../src/ops/providers';

const DIST = path.join(__dirname, '..', '..', 'dist');

/** Runs `code` in a fresh Node process (loading a provider or engine is process-wide and permanent). */
function child(code: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', code], { cwd: DIST, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('crypto back ends: providers, engines, OpenSSL info', () => {
  test("providers() lists the default provider of Node's OpenSSL", () => {
    const list = providers();
    const def = list.find((p) => p.name === 'default');
    expect(def).toMatchObject({ description: 'OpenSSL Default Provider', active: true });
    expect(def!.version).toBe(process.versions.openssl.replace(/\+.*/, ''));
  });

  test('loadProvider("legacy") loads the provider Node builds in; Node\'s crypto then has MD4', async () => {
    const r = await child(`
      const p = require('./ops/providers');
      const crypto = require('crypto');
      let before; try { crypto.createHash('md4'); before = 'ok'; } catch (e) { before = 'unsupported'; }
      const loaded = p.loadProvider('legacy');
      const md4 = crypto.createHash('md4').update('abc').digest('hex');
      const sha = crypto.createHash('sha256').update('abc').digest('hex');
      console.log(JSON.stringify({ before, loaded, names: p.providers().map((x) => x.name), md4, sha }));
    `);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.before).toBe('unsupported');
    expect(out.loaded).toMatchObject({ name: 'legacy', description: 'OpenSSL Legacy Provider', active: true });
    expect(out.names).toEqual(['default', 'legacy']);
    expect(out.md4).toBe('a448017aaf21d8525fc10ae87aa6729d'); // RFC 1320 test vector
    // The default provider stays active (OpenSSL stops auto-activating it once one is loaded explicitly).
    expect(out.sha).toBe(crypto.createHash('sha256').update('abc').digest('hex'));
  });

  test('a bad name and a bad path give errors naming the provider, the place searched and the reason', () => {
    expect(() => loadProvider('no-such-provider')).toThrow(
      /could not load provider "no-such-provider" \(built in, or from the modules directory\): .*could not load the shared library.*no-such-provider\.so/,
    );
    expect(() => loadProvider('no-such-provider', { path: '/nonexistent/dir' })).toThrow(
      /option "path" must be an existing directory holding the module for "no-such-provider"; "\/nonexistent\/dir" is not one/,
    );
    expect(() => loadProvider('no-such-provider', { path: __dirname })).toThrow(
      new RegExp(`could not load provider "no-such-provider" from directory "${__dirname}".*${__dirname}/no-such-provider\\.so`),
    );
    expect(() => loadProvider('' as string)).toThrow(TypeError);
    expect(() => loadProvider('x', { path: 5 as unknown as string })).toThrow(TypeError);
    // Nothing was loaded by the failures.
    expect(providers().map((p) => p.name)).not.toContain('no-such-provider');
  });

  test('engines() lists the built-in engines and works alongside crypto.setEngine', async () => {
    const ids = engines().map((e) => e.id);
    expect(ids).toContain('dynamic');
    const r = await child(`
      const p = require('./ops/providers');
      const crypto = require('crypto');
      const before = p.engines().map((e) => e.id);
      let set = 'skipped';
      if (before.includes('rdrand')) { crypto.setEngine('rdrand', crypto.constants.ENGINE_METHOD_RAND); set = 'ok'; }
      let bad; try { crypto.setEngine('no-such-engine'); bad = 'accepted'; } catch (e) { bad = e.message; }
      const after = p.engines().map((e) => e.id);
      console.log(JSON.stringify({ before, after, set, bad, random: crypto.randomBytes(8).length }));
    `);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.after).toEqual(out.before);
    expect(out.bad).toMatch(/engine/i);
    expect(out.random).toBe(8);
    if (opensslInfo().cpu.features.includes('rdrand')) expect(out.set).toBe('ok');
  });

  test('opensslInfo() and CPU features: the OpenSSL Node runs', () => {
    const info = opensslInfo();
    expect(info.version).toContain(process.versions.openssl.replace(/\+.*/, ''));
    expect(info.modulesDir).toMatch(/^MODULESDIR: /);
    if (process.arch === 'x64') expect(info.cpu.raw).toMatch(/OPENSSL_ia32cap=0x/);
    expect(decodeCpuInfo('CPUINFO: OPENSSL_ia32cap=0x0200000000000000:0x0000000000000020').features).toEqual(['aesni', 'avx2']);
    expect(decodeCpuInfo('').features).toEqual([]);
  });

  test("inspect: Node's default session settings read from a real tls.Server", () => {
    const r = inspectReport();
    expect(r.nodeDefaults.cache).toEqual({ mode: 0x383, enabled: false, size: 20480, timeoutSeconds: 7200 });
    expect(r.nodeDefaults.tickets).toEqual({ enabled: true, tls13Count: 2, pskKe: false });
    expect(r.attachDefaults.cache.enabled).toBe(true);
    expect(r.providers.map((p) => p.name)).toContain('default');
  });

  test('CLI: inspect --json', async () => {
    // The CLI runs only as the main module: start it the way the bin link does.
    const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [path.join(DIST, 'cli', 'main.js'), 'inspect', '--json'], { encoding: 'utf8' }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.openssl.version).toMatch(/^OpenSSL 3\./);
    expect(out.nodeDefaults.cache.mode).toBe(0x383);
  });
});
