/**
 * The hardware-key benchmark scenario, short: a token made for the run, C_Sign counted by
 * pkcs11-spy in each server process. Session-ID clients after a warm-up: stock Node signs every
 * handshake, attach() none, the 2-worker cluster with the shared store none; in every set-up
 * exactly one C_Sign per full handshake and none per resumed one.
 */
import { ensureDist } from '../../test/support/build';
import { runHardwareKey } from '../src/bench/hardware-key';

beforeAll(() => ensureDist());

test('hardware-key scenario: token signatures per 1,000 session-ID handshakes, stock vs attach vs cluster shared store', async () => {
  const run = await runHardwareKey({
    durationMs: 600,
    clients: 20,
    concurrency: 2,
    setups: ['stock', 'attach', 'clusterShared'],
    populations: ['sessionId'],
  });
  const by = (setup: string) => run.results.find((r) => r.setup === setup)!;
  expect(run.results.map((r) => r.setup)).toEqual(['stock', 'attach', 'clusterShared']);
  for (const r of run.results) {
    expect(r.handshakes).toBeGreaterThan(0);
    expect(r.failures).toBe(0);
    expect(r.signatures).toBe(r.handshakes - r.resumed);
  }
  expect(by('stock').resumed).toBe(0);
  expect(by('stock').signatures).toBe(by('stock').handshakes);
  expect(by('stock').signaturesPer1000).toBe(1000);
  expect(by('attach').resumed).toBe(by('attach').handshakes);
  expect(by('attach').signatures).toBe(0);
  // Every worker resumes the sessions of the others: no signature in the cluster either.
  expect(by('clusterShared').resumed).toBe(by('clusterShared').handshakes);
  expect(by('clusterShared').signatures).toBe(0);
}, 120000);
