/**
 * The failure reasons, the cache counters and the shared store's fields are listed once in
 * TypeScript and once in the addon (it fills them): the two are compared when the addon loads, so
 * a drift fails there with a message, never as a TypeError or a missing field inside stats().
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { native } from '../../src/common/native';
import { CACHE_COUNTER_FIELDS, checkNativeList, RESUMPTION_FAILURE_REASONS, SHARED_STAT_FIELDS } from '../../src/common/stats';
import { attach } from '../../src/server/attach';
import { tlsServer } from '../support/tls';

describe('lists shared with the addon', () => {
  test('the loaded addon counts exactly RESUMPTION_FAILURE_REASONS, in that order', () => {
    expect(native.resumptionFailureReasons).toEqual([...RESUMPTION_FAILURE_REASONS]);
  });

  test('an addon whose list differs is refused with a message that says what to do', () => {
    const drifted = [...native.resumptionFailureReasons, 'newReason'];
    expect(() => checkNativeList('resumption failure reasons', drifted, RESUMPTION_FAILURE_REASONS)).toThrow(
      /^tls-resumption: the native addon's resumption failure reasons \(.*"newReason"\]\) differ from this JavaScript's .*run `npm rebuild tls-resumption`$/,
    );
    expect(() => checkNativeList('resumption failure reasons', undefined, RESUMPTION_FAILURE_REASONS)).toThrow(/\(undefined\) differ/);
    const reordered = [...RESUMPTION_FAILURE_REASONS].reverse();
    expect(() => checkNativeList('resumption failure reasons', reordered, RESUMPTION_FAILURE_REASONS)).toThrow(/differ/);
  });

  test('stats() carries exactly the counter and shared-store fields the lists name', () => {
    expect(native.cacheCounterFields).toEqual([...CACHE_COUNTER_FIELDS]);
    expect(native.sharedStatFields).toEqual([...SHARED_STAT_FIELDS]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-fields-'));
    const server = tlsServer();
    const cache = attach(server, { shared: { path: path.join(dir, 'store') } });
    try {
      const stats = cache.stats();
      for (const field of CACHE_COUNTER_FIELDS) expect(typeof stats[field]).toBe('number');
      expect(Object.keys(stats.shared!).sort()).toEqual([...SHARED_STAT_FIELDS, 'path'].sort());
    } finally {
      cache.detach();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
