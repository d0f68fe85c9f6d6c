/**
 * Property: any input to attach()/configure() either applies completely (the settings OpenSSL
 * reports are exactly the options asked for) or throws a documented TypeError/RangeError that
 * names an option, and then nothing changed.
 */
import * as tls from 'node:tls';
import fc from 'fast-check';

import { attach } from '../../src/server/attach';

const DOCUMENTED = /^("[a-zA-Z0-9.]+" must be |Unknown option ")/;

const anyValue = fc.oneof(
  fc.integer({ min: -5, max: 40000 }),
  fc.constantFrom(0, 1, 16, 17, 0x80, 0x100, 0x200, 0x380, 0x7fffffff, 2 ** 31, -1, 1.5, NaN, Infinity),
  fc.boolean(),
  fc.constantFrom(null, undefined, 'x', [], {}),
);

const cacheArb = fc.record(
  { enabled: anyValue, size: anyValue, timeoutSeconds: anyValue, mode: anyValue, sise: anyValue },
  { requiredKeys: [] },
);
const ticketsArb = fc.record({ enabled: anyValue, tls13Count: anyValue }, { requiredKeys: [] });
const optionsArb = fc.oneof(
  fc.record({ cache: fc.oneof(cacheArb, anyValue), tickets: fc.oneof(ticketsArb, anyValue) }, { requiredKeys: [] }),
  anyValue,
);

function expected(o: Record<string, unknown>, key: string, field: string, fallback: unknown): unknown {
  const group = o[key] as Record<string, unknown> | undefined;
  return group && group[field] !== undefined ? group[field] : fallback;
}

describe('option validation, property-based', () => {
  test('attach applies fully or throws a documented error and changes nothing', () => {
    fc.assert(
      fc.property(optionsArb, (options) => {
        const ctx = tls.createSecureContext({});
        let cache;
        try {
          cache = attach(ctx, options as never);
        } catch (err) {
          expect(err instanceof TypeError || err instanceof RangeError).toBe(true);
          expect((err as Error).message).toMatch(DOCUMENTED);
          const probe = attach(ctx, { cache: { enabled: false } });
          expect(probe.stats().settings).toEqual(probe.nodeSettings);
          probe.detach();
          return;
        }
        const o = (options ?? {}) as Record<string, unknown>;
        const s = cache.stats().settings;
        expect(s.cache.size).toBe(expected(o, 'cache', 'size', 20480));
        expect(s.cache.enabled).toBe(expected(o, 'cache', 'enabled', true));
        expect(s.tickets.tls13Count).toBe(expected(o, 'tickets', 'tls13Count', 2));
        expect(s.tickets.enabled).toBe(expected(o, 'tickets', 'enabled', true));
        expect(s.cache.timeoutSeconds).toBe(expected(o, 'cache', 'timeoutSeconds', 7200));
        cache.detach();
      }),
      { numRuns: 500 },
    );
  });

  test('configure applies fully or throws and leaves the previous settings', () => {
    const ctx = tls.createSecureContext({});
    const cache = attach(ctx, { cache: { size: 77, timeoutSeconds: 77 }, tickets: { tls13Count: 3 } });
    fc.assert(
      fc.property(optionsArb, (options) => {
        const before = cache.stats().settings;
        try {
          cache.configure(options as never);
        } catch (err) {
          expect(err instanceof TypeError || err instanceof RangeError).toBe(true);
          expect((err as Error).message).toMatch(DOCUMENTED);
          expect(cache.stats().settings).toEqual(before);
          return;
        }
        const o = (options ?? {}) as Record<string, unknown>;
        const after = cache.stats().settings;
        expect(after.cache.size).toBe(expected(o, 'cache', 'size', before.cache.size));
        expect(after.cache.timeoutSeconds).toBe(expected(o, 'cache', 'timeoutSeconds', before.cache.timeoutSeconds));
        expect(after.tickets.tls13Count).toBe(expected(o, 'tickets', 'tls13Count', before.tickets.tls13Count));
      }),
      { numRuns: 500 },
    );
    cache.detach();
  });
});
