/**
 * The server side of the hardware-key scenario (hardware-key.ts), loaded by the bench server
 * process: serve from the token through the engine, with pkcs11-spy logging to a file of this
 * process's own. Apart from the scenario so a server process loads nothing of the driver.
 */
import * as path from 'node:path';
import * as tls from 'node:tls';

/** @internal What server.ts reads from TSC_BENCH_ENGINE_KEY to serve from the token. */
export interface EngineKeyConfig {
  /** Node's privateKeyEngine. */
  engine: string;
  /** Node's privateKeyIdentifier (a pin-source URI: no PIN in it). */
  identifier: string;
  /** Directory where each server process writes `<pid>.spy.log`. */
  spyDir: string;
}

/**
 * Called by the bench server process before it builds its server: points pkcs11-spy at a log of
 * this process's own (cluster workers each have one) and returns the https options that load
 * the key through the engine instead of `key`.
 *
 * SoftHSM2's file token is read by every process that opens it, and a process that reads it
 * while another writes it now and then finds no initialised token (softhsm/SoftHSMv2#757; seen
 * here about once in 40 processes started together, as cluster workers are). A real HSM has no
 * such race. So the engine is loaded and logged in here first, retried up to 5 times 100 ms
 * apart; once it holds the token, the server's own load reuses its slot and session.
 */
export function engineKeyServerOptions(raw: string, cert: string): { privateKeyEngine: string; privateKeyIdentifier: string } {
  const c = JSON.parse(raw) as EngineKeyConfig;
  process.env.PKCS11SPY_OUTPUT = path.join(c.spyDir, `${process.pid}.spy.log`);
  const options = { privateKeyEngine: c.engine, privateKeyIdentifier: c.identifier };
  for (let attempt = 1; ; attempt++) {
    try {
      tls.createSecureContext({ cert, ...options });
      return options;
    } catch (err) {
      if (attempt === 5) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}
