/**
 * A throwaway SoftHSM2 token with a P-256 key generated inside it and a certificate signed by
 * that key through the PKCS#11 engine: what the hardware-key tests and the hardware-key
 * benchmark serve TLS with. Debian packages: softhsm2, opensc (pkcs11-tool, pkcs11-spy),
 * libengine-pkcs11-openssl. Each token lives in a directory of its own with its own
 * SOFTHSM2_CONF, so nothing touches the machine's tokens.
 *
 * The PIN here is a test PIN: softhsm2-util and pkcs11-tool take it in argv, which a real token's
 * PIN must never be (see docs/hardware-keys.md). pkcs11-spy logs every argument of every call,
 * the PIN of C_Login included: its logs are 0600 files in the token directory, removed with it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Debian's paths of the three pieces. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const PKCS11_ENGINE = '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so';
export const ENGINES_DIR = path.dirname(PKCS11_ENGINE);
export const PKCS11_SPY = '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so';

/** A token made by `createSoftToken`. */
export interface SoftToken {
  /** The token's directory (config, token files, PIN file, certificate, spy logs). */
  dir: string;
  /** Path of this token's softhsm2.conf: set SOFTHSM2_CONF to it in every process using the token. */
  conf: string;
  label: string;
  /** Label of the key pair generated in the token. */
  object: string;
  /** The user PIN (a test PIN). */
  pin: string;
  /** A 0600 file holding the PIN, no newline. */
  pinFile: string;
  /** PKCS#11 URI of the private key, without any PIN. */
  keyUri: string;
  /** The key URI with `pin-source=file:` (what Node's privateKeyIdentifier takes). */
  keyUriWithPinSource: string;
  /** PEM certificate for CN=localhost, signed by the token key. */
  certPem: string;
  /**
   * Environment for a process that uses the token through the engine. With `spyLog`, the
   * engine drives pkcs11-spy, which logs every PKCS#11 call there and forwards it to SoftHSM.
   */
  env(spyLog?: string): Record<string, string>;
  /** Removes the token directory. */
  remove(): void;
}

/** What is missing on this machine for a SoftHSM token, or undefined when all is there. */
export function softTokenUnavailable(): string | undefined {
  const need: [string, string][] = [
    [SOFTHSM_MODULE, 'softhsm2'],
    [PKCS11_ENGINE, 'libengine-pkcs11-openssl'],
    [PKCS11_SPY, 'opensc'],
  ];
  const missing = need.filter(([file]) => !fs.existsSync(file)).map(([, pkg]) => pkg);
  for (const [cmd, pkg] of [
    ['softhsm2-util', 'softhsm2'],
    ['pkcs11-tool', 'opensc'],
    ['openssl', 'openssl'],
  ] as const) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    } catch {
      missing.push(pkg);
    }
  }
  return missing.length > 0 ? `apt-get install ${[...new Set(missing)].join(' ')}` : undefined;
}

/** The environment variables that route the pkcs11 engine through pkcs11-spy into `module`. */
export function spyEnv(module: string, logFile: string): Record<string, string> {
  return { PKCS11_MODULE_PATH: PKCS11_SPY, PKCS11SPY: module, PKCS11SPY_OUTPUT: logFile };
}

/**
 * Counts the calls of PKCS#11 function `fn` (e.g. "C_Sign") in pkcs11-spy logs: a file, or
 * every `*.spy.log` file of a directory (one per server process). A missing file counts 0.
 */
export function countPkcs11Calls(fileOrDir: string, fn: string): number {
  let files: string[] = [];
  if (fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory()) {
    files = fs
      .readdirSync(fileOrDir)
      .filter((f) => f.endsWith('.spy.log'))
      .map((f) => path.join(fileOrDir, f));
  } else if (fs.existsSync(fileOrDir)) {
    files = [fileOrDir];
  }
  // pkcs11-spy writes "<n>: C_Sign" on a line of its own for each call.
  const line = new RegExp(`^\\d+: ${fn}\\r?$`, 'gm');
  return files.reduce((n, f) => n + (fs.readFileSync(f, 'latin1').match(line)?.length ?? 0), 0);
}

/** Creates a token in a new temporary directory, a key pair inside it (default P-256) and a certificate. */
export function createSoftToken(
  options: { label?: string; object?: string; pin?: string; keyType?: 'EC:prime256v1' | 'rsa:2048' } = {},
): SoftToken {
  const missing = softTokenUnavailable();
  if (missing) throw new Error(`SoftHSM token: missing packages (${missing})`);
  const label = options.label ?? 'tls-resumption';
  const object = options.object ?? 'tls';
  const pin = options.pin ?? '24681357';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-hsm-'));
  fs.chmodSync(dir, 0o700);
  const conf = path.join(dir, 'softhsm2.conf');
  fs.mkdirSync(path.join(dir, 'tokens'), { mode: 0o700 });
  fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const pinFile = path.join(dir, 'pin');
  fs.writeFileSync(pinFile, pin, { mode: 0o600 });
  const keyUri = `pkcs11:token=${label};object=${object};type=private`;
  const keyUriWithPinSource = `${keyUri};pin-source=file:${pinFile}`;
  const base = { ...process.env, SOFTHSM2_CONF: conf } as Record<string, string>;
  // Errors name the command, never its arguments (the PIN is among them).
  const run = (cmd: string, args: string[], env: Record<string, string> = base): void => {
    try {
      execFileSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    } catch (err) {
      throw new Error(`${cmd} failed: ${String((err as { stderr?: string }).stderr ?? '').trim()}`);
    }
  };
  try {
    run('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', `${pin}0`, '--pin', pin]);
    run('pkcs11-tool', [
      '--module',
      SOFTHSM_MODULE,
      '--token-label',
      label,
      '--login',
      '--pin',
      pin,
      '--keypairgen',
      '--key-type',
      options.keyType ?? 'EC:prime256v1',
      '--label',
      object,
      '--id',
      '01',
    ]);
    const certFile = path.join(dir, 'cert.pem');
    run(
      'openssl',
      [
        'req',
        '-new',
        '-x509',
        '-days',
        '7',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-engine',
        'pkcs11',
        '-keyform',
        'engine',
        '-key',
        keyUriWithPinSource,
        '-out',
        certFile,
      ],
      { ...base, PKCS11_MODULE_PATH: SOFTHSM_MODULE, OPENSSL_ENGINES: ENGINES_DIR },
    );
    const certPem = fs.readFileSync(certFile, 'utf8');
    return {
      dir,
      conf,
      label,
      object,
      pin,
      pinFile,
      keyUri,
      keyUriWithPinSource,
      certPem,
      env: (spyLog) => ({
        SOFTHSM2_CONF: conf,
        OPENSSL_ENGINES: ENGINES_DIR,
        ...(spyLog ? spyEnv(SOFTHSM_MODULE, spyLog) : { PKCS11_MODULE_PATH: SOFTHSM_MODULE }),
      }),
      remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`SoftHSM token: ${(err as Error).message}`);
  }
}
