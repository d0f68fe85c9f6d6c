/**
 * `bench:psk-ke --handshake-only` on a tiny setting: memory-BIO handshakes against a SecureContext
 * the package is attached to. Checks the output's fields and that every counted handshake ran in
 * its mode (the tool itself refuses any other outcome, which the last test provokes), never speed.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tls from 'node:tls';

import { ensureDist, repoRoot } from '../../test/support/build';
import { handshakeBenchNative, type PskKeHandshakeResult, SERVER_CALLS, secureContextExternal } from '../src/bench/psk-ke-handshake';
import { attach, selfSignedCertificate, TicketKeyRing } from '../src/library';

jest.setTimeout(120_000);
beforeAll(() => ensureDist());

const [major = 0, minor = 0] = process.versions.openssl.split('.').map(Number);
const serverPrefersPskKe = major > 3 || (major === 3 && minor >= 3);

function runHandshakeOnly(extra: string[]): PskKeHandshakeResult {
  const r = spawnSync(
    process.execPath,
    [
      path.join(repoRoot, 'tools', 'dist', 'bench', 'psk-ke.js'),
      '--handshake-only',
      '--handshakes',
      '60',
      '--full',
      '10',
      '--pairs',
      '2',
      '--json',
      ...extra,
    ],
    { encoding: 'utf8', timeout: 100_000 },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as PskKeHandshakeResult;
}

function expectTimes(m: PskKeHandshakeResult['modes']['full']): void {
  for (const call of SERVER_CALLS) {
    expect(Number.isFinite(m.calls[call])).toBe(true);
    expect(m.calls[call]).toBeGreaterThanOrEqual(0);
  }
  expect(m.handshakeMicros).toBeCloseTo(m.calls.firstFlight + m.calls.secondFlight, 6);
  expect(m.withSslObjectMicros).toBeCloseTo(m.handshakeMicros + m.calls.sslNew + m.calls.sslFree, 6);
  expect(m.handshakeMedianMicros).toBeGreaterThan(0);
}

test.each([
  ["Node's default groups", [] as string[], null],
  ['--groups X25519', ['--groups', 'X25519'], 'X25519'],
])('every handshake ran in its mode, the package counted each resumption (%s)', (_label, extra, groups) => {
  const out = runHandshakeOnly(extra);
  expect(out).toMatchObject({
    node: process.version,
    openssl: process.versions.openssl,
    groups,
    serverPskKe: serverPrefersPskKe,
    handshakes: 60,
    fullHandshakes: 10,
    pairs: 2,
  });
  expect(out.ticketKeys).toMatch(/TicketKeyRing/);
  expect(out.loadAverage.before).toHaveLength(3);
  expect(out.timerOverheadMicros).toBeGreaterThan(0);

  const { full, psk_dhe_ke: dhe, psk_ke: ke } = out.modes;
  expect(full).toMatchObject({ handshakes: 20, resumed: 0, keyShare: 1, preSharedKey: 0 });
  // Node's default: two tickets after a full handshake; the ring renews one on every resumption.
  expect(full.ticketsPerHandshake).toBe(2);
  expect(dhe).toMatchObject({ handshakes: 120, resumed: 1, keyShare: 1, preSharedKey: 1, ticketsPerHandshake: 1 });
  expectTimes(full);
  expectTimes(dhe);
  if (groups) expect(dhe.serverNegotiatedGroup).toEqual(['x25519']);

  let resumptions = dhe.handshakes;
  if (serverPrefersPskKe) {
    expect(ke).toMatchObject({ handshakes: 120, resumed: 1, keyShare: 0, preSharedKey: 1, ticketsPerHandshake: 1 });
    expectTimes(ke!);
    // What OpenSSL reports for a resumption without a key exchange: the session's original group, not none.
    expect(ke!.serverNegotiatedGroup).toEqual(dhe.serverNegotiatedGroup);
    resumptions += ke!.handshakes;
    for (const ratio of [out.ratio, out.ratioMedian, out.ratioWithSslObject]) expect(typeof ratio).toBe('number');
    expect(out.pskKeUnsupported).toBeUndefined();
  } else {
    // Node 20 (OpenSSL 3.0): the server cannot prefer psk_ke; the output says so instead of a row.
    expect(ke).toBeNull();
    expect(out.ratio).toBeNull();
    expect(out.pskKeUnsupported).toMatch(/OpenSSL 3\.3/);
  }
  expect(out.packageStats).toMatchObject({ offered: resumptions, resumed: resumptions });
  expect(out.packageStats.ticketsIssued).toBeGreaterThanOrEqual(resumptions + 2 * full.handshakes);
});

test('a server that does not prefer psk_ke: the psk_ke phase stops at its first handshake, which ran a key exchange', () => {
  const cert = selfSignedCertificate('localhost');
  const context = tls.createSecureContext({ key: cert.key, cert: cert.cert });
  const cache = attach(context, { tickets: { keyRing: TicketKeyRing.generate() } });
  try {
    const external = secureContextExternal(context);
    const native = handshakeBenchNative();
    expect(() => native.runPhase(external, { mode: 'psk_ke', handshakes: 5, groups: 'X25519', serverName: 'localhost' })).toThrow(
      'psk_ke handshake 0: the ServerHello has a key_share: a key exchange ran (psk_dhe_ke, not psk_ke)',
    );
    // The same context resumes psk_dhe_ke as claimed.
    const ok = native.runPhase(external, { mode: 'psk_dhe_ke', handshakes: 5, serverName: 'localhost' });
    expect(ok).toMatchObject({ handshakes: 5, resumed: 5, keyShare: 5, preSharedKey: 5 });
    expect(ok.nanos.firstFlight).toHaveLength(5);
  } finally {
    cache.detach();
  }
});

test('runPhase refuses what is not a SecureContext and an unknown mode', () => {
  const native = handshakeBenchNative();
  expect(() => native.runPhase({}, { mode: 'full', handshakes: 1, serverName: 'localhost' })).toThrow(
    'runPhase: expected a SecureContext `_external`',
  );
  const context = tls.createSecureContext();
  const external = secureContextExternal(context);
  expect(() => native.runPhase(external, { mode: 'psk' as 'full', handshakes: 1, serverName: 'localhost' })).toThrow(
    "runPhase: unknown mode 'psk'",
  );
});
