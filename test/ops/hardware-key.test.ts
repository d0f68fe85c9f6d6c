/**
 * A server key that lives in a PKCS#11 token: a SoftHSM2 token made for this file, a P-256 key
 * generated inside it, a certificate signed through the engine, TLS served from it by Node's own
 * privateKeyEngine and by loadEngineKey, and the C_Sign calls each handshake costs, counted by
 * pkcs11-spy. Engines load process-wide and for good, so every case runs in a child process.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { selfSignedCertificate } from '../../src/ops/certificate';
import { ensureDist } from '../support/build';
import { countPkcs11Calls, createSoftToken, PKCS11_ENGINE, SOFTHSM_MODULE, type SoftToken } from '../support/softhsm';

const DIST = path.join(__dirname, '..', '..', 'dist');
beforeAll(() => ensureDist());
const softCert = selfSignedCertificate('localhost');
let token: SoftToken;

beforeAll(() => {
  token = createSoftToken({ label: 'edge', object: 'tls' });
  // A second key pair in the same token: the wrong object for this certificate.
  execFileSync(
    'pkcs11-tool',
    [
      '--module',
      SOFTHSM_MODULE,
      '--token-label',
      'edge',
      '--login',
      '--pin',
      token.pin,
      '--keypairgen',
      '--key-type',
      'EC:prime256v1',
      '--label',
      'other',
      '--id',
      '02',
    ],
    { env: { ...process.env, ...token.env() }, stdio: 'ignore' },
  );
});
afterAll(() => token?.remove());

/** Code every child starts with: the token's certificate, a server, TLS 1.2 session-ID clients. */
const PRELUDE = `
  const https = require('https'), tls = require('tls'), util = require('util'), { constants } = require('crypto');
  const p = require('./entries/providers');
  const { attach } = require('./index');
  const CERT = process.env.T_CERT;
  const listen = (s) => new Promise((r) => s.listen(0, '127.0.0.1', () => r(s.address().port)));
  const close = (s) => new Promise((r) => s.close(r));
  // A TLS 1.2 client without the ticket extension: it resumes only through the server's session-ID cache.
  function connect(port, session) {
    return new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: CERT, maxVersion: 'TLSv1.2',
        secureOptions: constants.SSL_OP_NO_TICKET, session }, () => {
        const out = { reused: c.isSessionReused(), fingerprint: c.getPeerCertificate().fingerprint256, session: c.getSession() };
        c.end(); c.on('close', () => resolve(out));
      });
      c.on('data', () => undefined);
      c.on('error', reject);
    });
  }
  function handler(q, r) { r.end('ok'); }
  const out = (x) => console.log(JSON.stringify(x));
`;

/** The child's last stdout line, parsed: each test asserts its shape with toEqual/toMatchObject. */
// biome-ignore lint/suspicious/noExplicitAny: the shape is asserted field by field by each test
type ChildJson = any;

function child(code: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json: ChildJson }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-e', PRELUDE + code],
      {
        cwd: DIST,
        encoding: 'utf8',
        timeout: 20000,
        env: { ...process.env, T_CERT: token.certPem, ...env },
      },
      (err, stdout, stderr) => {
        let json: ChildJson;
        try {
          json = JSON.parse(stdout.trim().split('\n').pop() ?? '');
        } catch {
          json = undefined;
        }
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, json });
      },
    );
  });
}

/** keySource() of the token's P-256 key loaded through the engine by its path. */
function tokenKey(identifier: string, pin: string) {
  return { kind: 'engine', type: 'EC', bits: 256, provider: '', module: PKCS11_ENGINE, engine: PKCS11_ENGINE, identifier, pin };
}

function certFingerprint(pem: string): string {
  return new (require('node:crypto').X509Certificate)(pem).fingerprint256;
}

describe(`hardware key (SoftHSM2 token) on Node ${process.version}`, () => {
  test("Node's privateKeyEngine serves from the token; each full handshake costs one C_Sign, a resumed one none", async () => {
    const spy = path.join(token.dir, 'engine.spy.log');
    fs.rmSync(spy, { force: true });
    const r = await child(
      `
      (async () => {
        const count = () => (require('fs').existsSync(process.env.T_SPY) ? require('fs').readFileSync(process.env.T_SPY, 'latin1').match(/^\\d+: C_Sign\\r?$/gm)?.length ?? 0 : 0);
        const server = https.createServer({ cert: CERT, privateKeyEngine: process.env.T_ENGINE, privateKeyIdentifier: process.env.T_KEY }, handler);
        const source = p.keySource(server);
        const port = await listen(server);
        const signs0 = count();
        const s1 = await connect(port); const s2 = await connect(port, s1.session);
        const stockSigns = count() - signs0;
        const cache = attach(server, { cache: { enabled: true } });
        const a1 = await connect(port); const a2 = await connect(port, a1.session);
        const attachSigns = count() - signs0 - stockSigns;
        out({ source, json: JSON.stringify(source), inspected: util.inspect(source), stock: [s1.reused, s2.reused], attached: [a1.reused, a2.reused],
          fingerprint: s1.fingerprint, stockSigns, attachSigns, hits: cache.stats().hits });
        await close(server);
      })();
    `,
      { ...token.env(spy), T_SPY: spy, T_ENGINE: PKCS11_ENGINE, T_KEY: token.keyUriWithPinSource },
    );
    expect(r.stderr.replace(/^bad engine id\n/, '')).toBe('');
    const o = r.json;
    expect(o.fingerprint).toBe(certFingerprint(token.certPem));
    expect(o.source).toEqual(tokenKey(token.keyUriWithPinSource, 'pin-source'));
    // Stock Node: session-ID clients never resume, so every connection is a token signature.
    expect(o.stock).toEqual([false, false]);
    expect(o.stockSigns).toBe(2);
    expect(o.attached).toEqual([false, true]);
    expect(o.attachSigns).toBe(1);
    expect(o.hits).toBe(1);
    for (const text of [o.json, o.inspected, r.stdout, r.stderr]) expect(text).not.toContain(token.pin);
    // pkcs11-spy logs every argument, the PIN of C_Login included: a tool for test tokens only.
    expect(fs.readFileSync(spy, 'latin1')).toContain('C_Login');
    expect(countPkcs11Calls(spy, 'C_Sign')).toBe(3);
  });

  test('privateKeyEngine by path loads the engine once per process (a second load of the .so fails); by id, every time', async () => {
    const code = (order: string) => `
      const by = (engine) => { try { https.createServer({ cert: CERT, privateKeyEngine: engine, privateKeyIdentifier: process.env.T_KEY }); return 'ok'; } catch (e) { return e.message; } };
      out(${order}.map((e) => by(e === 'path' ? process.env.T_ENGINE : e)));
    `;
    const env = { ...token.env(), T_ENGINE: PKCS11_ENGINE, T_KEY: token.keyUriWithPinSource };
    const byPath = await child(code("['path', 'path', 'pkcs11']"), env);
    const byId = await child(code("['pkcs11', 'pkcs11', 'pkcs11']"), env);
    // The first SecureContext holds the dynamically loaded engine; OpenSSL refuses to load its .so again.
    expect(byPath.json).toEqual(['ok', 'error:1300006D:engine routines::init failed', 'error:1300006D:engine routines::init failed']);
    // By id (found through OPENSSL_ENGINES), the engine joins OpenSSL's engine list and is reused.
    expect(byId.json).toEqual(['ok', 'ok', 'ok']);
  });

  test('a PIN inside the identifier (pin-value) shows in util.inspect(server); keySource redacts it', async () => {
    const r = await child(
      `
      const server = https.createServer({ cert: CERT, privateKeyEngine: 'pkcs11', privateKeyIdentifier: process.env.T_KEY + '?pin-value=' + process.env.T_PIN });
      const source = p.keySource(server);
      out({ nodeInspect: util.inspect(server).includes('pin-value=' + process.env.T_PIN), source, json: JSON.stringify(source) + util.inspect(source) });
    `,
      { ...token.env(), T_KEY: token.keyUri, T_PIN: token.pin },
    );
    expect(r.json.nodeInspect).toBe(true);
    expect(r.json.source).toMatchObject({ kind: 'engine', identifier: `${token.keyUri}?pin-value=[redacted]`, pin: 'pin-value' });
    expect(r.json.json).not.toContain(token.pin);
  });

  test('loadEngineKey: PIN from a file, the environment or a Buffer; per-call module; one engine for every key', async () => {
    const pinFile = path.join(token.dir, 'pin-nl');
    fs.writeFileSync(pinFile, `${token.pin}\n`, { mode: 0o600 });
    const r = await child(
      `
      (async () => {
        const opts = { engine: process.env.T_ENGINE, module: process.env.T_MODULE, key: process.env.T_KEY };
        const results = [];
        for (const pin of [{ file: process.env.T_PINFILE }, { env: 'T_PIN' }, Buffer.from(process.env.T_PIN)]) {
          const server = https.createServer({ cert: CERT }, handler);
          const before = p.keySource(server).kind;
          const loaded = p.loadEngineKey(server, { ...opts, pin });
          const port = await listen(server);
          const c = await connect(port);
          results.push({ before, loaded, after: p.keySource(server), fingerprint: c.fingerprint });
          await close(server);
        }
        // Node's privateKeyEngine by id finds the engine loadEngineKey loaded (module and PIN set).
        const byId = https.createServer({ cert: CERT, privateKeyEngine: 'pkcs11', privateKeyIdentifier: process.env.T_KEY });
        const port = await listen(byId);
        const c = await connect(port);
        out({ results, byId: p.keySource(byId).kind, byIdFingerprint: c.fingerprint, engines: p.engines().map((e) => e.id) });
        await close(byId);
      })();
    `,
      {
        SOFTHSM2_CONF: token.conf,
        T_ENGINE: PKCS11_ENGINE,
        T_MODULE: SOFTHSM_MODULE,
        T_KEY: token.keyUri,
        T_PINFILE: pinFile,
        T_PIN: token.pin,
        PKCS11_MODULE_PATH: '/nonexistent/no-module.so', // the per-call module wins over the process-wide default
      },
    );
    expect(r.stderr.replace(/^bad engine id\n/, '')).toBe('');
    const fp = certFingerprint(token.certPem);
    expect(r.json.results).toHaveLength(3);
    for (const x of r.json.results) {
      expect(x.before).toBe('none');
      expect(x.loaded).toEqual(tokenKey(token.keyUri, 'option'));
      expect(x.after).toEqual(x.loaded);
      expect(x.fingerprint).toBe(fp);
    }
    expect(r.json.byId).toBe('engine');
    expect(r.json.byIdFingerprint).toBe(fp);
    expect(r.json.engines).toContain('pkcs11');
    expect(r.stdout).not.toContain(token.pin);
  });

  test('keySource: a key in memory is "software" (default provider); an RSA key in the token is "engine" too', async () => {
    const rsa = createSoftToken({ label: 'rsa', object: 'tls', keyType: 'rsa:2048' });
    try {
      const r = await child(
        `
        (async () => {
          const soft = p.keySource(tls.createSecureContext({ key: process.env.T_SOFT_KEY, cert: process.env.T_SOFT_CERT }));
          const server = https.createServer({ cert: CERT, privateKeyEngine: 'pkcs11', privateKeyIdentifier: process.env.T_KEY }, handler);
          const port = await listen(server);
          const c = await connect(port);
          out({ soft, rsa: p.keySource(server), fingerprint: c.fingerprint });
          await close(server);
        })();
      `,
        { ...rsa.env(), T_CERT: rsa.certPem, T_KEY: rsa.keyUriWithPinSource, T_SOFT_KEY: softCert.key, T_SOFT_CERT: softCert.cert },
      );
      expect(r.json.soft).toEqual({ kind: 'software', type: 'EC', bits: 256, provider: 'default', module: '' });
      expect(r.json.rsa).toMatchObject({
        kind: 'engine',
        type: 'RSA',
        bits: 2048,
        module: PKCS11_ENGINE,
        engine: 'pkcs11',
        pin: 'pin-source',
      });
      expect(r.json.fingerprint).toBe(certFingerprint(rsa.certPem));
    } finally {
      rsa.remove();
    }
  });

  test('loadEngineKey: bad engine, missing module, missing token, wrong object, wrong or missing PIN: clear errors without the PIN, nothing applied', async () => {
    const looseFile = path.join(token.dir, 'pin-loose');
    fs.writeFileSync(looseFile, token.pin, { mode: 0o644 });
    fs.chmodSync(looseFile, 0o644);
    const r = await child(
      `
      const server = https.createServer({ cert: CERT }, handler);
      const base = { engine: process.env.T_ENGINE, module: process.env.T_MODULE, key: process.env.T_KEY, pin: Buffer.from(process.env.T_PIN) };
      // PIN cases first: once the engine is logged in to the token, libp11 does not log in again.
      const cases = {
        wrongPin: { ...base, pin: Buffer.from('0' + process.env.T_PIN.slice(1)) },
        noPin: { engine: base.engine, module: base.module, key: base.key },
        missingEngine: { ...base, engine: '/nonexistent/pkcs11.so' },
        notAnEngine: { ...base, engine: '/etc/hostname' },
        unknownId: { ...base, engine: 'no-such-engine' },
        missingModule: { ...base, module: '/nonexistent/libvendor-pkcs11.so' },
        missingToken: { ...base, key: 'pkcs11:token=no-such-token;object=tls;type=private' },
        missingObject: { ...base, key: process.env.T_KEY.replace('object=tls', 'object=no-such-key') },
        otherKey: { ...base, key: process.env.T_KEY.replace('object=tls', 'object=other') },
        pinInKey: { ...base, key: process.env.T_KEY + '?pin-value=' + process.env.T_PIN },
        looseFile: { ...base, pin: { file: process.env.T_LOOSE } },
        unsetEnv: { ...base, pin: { env: 'T_NO_SUCH_VARIABLE' } },
        typo: { ...base, modul: 'x' },
        emptyPin: { ...base, pin: Buffer.alloc(0) },
      };
      const errors = {};
      for (const [name, o] of Object.entries(cases)) {
        try { p.loadEngineKey(server, o); errors[name] = 'accepted'; } catch (e) { errors[name] = e.constructor.name + ': ' + e.message; }
      }
      let target; try { p.keySource({}); } catch (e) { target = e.constructor.name + ': ' + e.message; }
      out({ errors, target, source: p.keySource(server).kind });
    `,
      {
        SOFTHSM2_CONF: token.conf,
        T_ENGINE: PKCS11_ENGINE,
        T_MODULE: SOFTHSM_MODULE,
        T_KEY: token.keyUri,
        T_PIN: token.pin,
        T_LOOSE: looseFile,
      },
    );
    const e = r.json.errors;
    const key = token.keyUri;
    expect(e.missingEngine).toBe(
      'Error: loadEngineKey: option "engine": no file at "/nonexistent/pkcs11.so" (expected an OpenSSL engine\'s shared object).',
    );
    expect(e.notAnEngine).toMatch(
      /^Error: loadEngineKey: could not load the engine "\/etc\/hostname": it is not an OpenSSL engine this OpenSSL can load \(OpenSSL: .*could not load the shared library \(filename\(\/etc\/hostname\)/,
    );
    expect(e.unknownId).toMatch(
      /^Error: loadEngineKey: no engine with id "no-such-engine" in OpenSSL's engine list or its engines directory \(set OPENSSL_ENGINES, or give the path of the engine's .so\)/,
    );
    expect(e.missingModule).toBe(
      'Error: loadEngineKey: option "module": no file at "/nonexistent/libvendor-pkcs11.so" (expected a PKCS#11 module\'s shared object).',
    );
    expect(e.missingToken).toMatch(
      /^Error: loadEngineKey: no token and private key match pkcs11:token=no-such-token;object=tls;type=private in the PKCS#11 module \(check the token label/,
    );
    expect(e.missingObject).toMatch(
      /^Error: loadEngineKey: no token and private key match pkcs11:token=edge;object=no-such-key;type=private in the PKCS#11 module/,
    );
    expect(e.otherKey).toBe(
      `Error: loadEngineKey: the key at ${key.replace('object=tls', 'object=other')} is not the private key of the context's certificate`,
    );
    expect(e.wrongPin).toMatch(
      new RegExp(
        `^Error: loadEngineKey: the token refused the PIN for the key at ${key.replace(/[;=]/g, '.')} \\(OpenSSL: .*PIN incorrect`,
      ),
    );
    expect(e.noPin).toMatch(/the token needs a PIN and none was given \(option "pin"\)/);
    expect(e.pinInKey).toBe(
      `TypeError: "key" must be a key identifier without the PIN, got ${key}?pin-value=[redacted]; pass the PIN as "pin" ({ file } or { env }).`,
    );
    expect(e.looseFile).toBe(
      `Error: loadEngineKey: option "pin.file": "${looseFile}" is readable by others (mode 644); make it 0600 or 0400.`,
    );
    expect(e.unsetEnv).toBe('Error: loadEngineKey: option "pin.env": environment variable T_NO_SUCH_VARIABLE is not set.');
    expect(e.typo).toBe('TypeError: Unknown option "options.modul". Did you mean "options.module"?');
    expect(e.emptyPin).toBe('TypeError: "pin" must be a PIN of 1 byte or more without NUL bytes, got a Buffer of 0 bytes.');
    expect(r.json.target).toBe(
      'TypeError: "target" must be a tls.Server, https.Server, http2 secure server or tls.SecureContext, got an object.',
    );
    // Nothing was applied by any failure.
    expect(r.json.source).toBe('none');
    expect(r.stdout).not.toContain(token.pin);
    expect(r.stderr).not.toContain(token.pin);
    expect(r.stderr).not.toContain(token.pin.slice(1)); // the wrong PIN tried
  });
});
