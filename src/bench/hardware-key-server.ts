/**
 * The server side of the hardware-key scenario (hardware-key.ts), loaded by the bench server
 * process: serve from the token through the engine, with pkcs11-spy logging to a file of this
 * process's own. Apart from the scenario so a server process loads nothing of the driver.
 */
import * as path from 'node:path';

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
 */
export function engineKeyServerOptions(raw: string): { privateKeyEngine: string; privateKeyIdentifier: string } {
  const c = JSON.parse(raw) as EngineKeyConfig;
  process.env.PKCS11SPY_OUTPUT = path.join(c.spyDir, `${process.pid}.spy.log`);
  return { privateKeyEngine: c.engine, privateKeyIdentifier: c.identifier };
}
