import type * as tls from 'node:tls';

import { attach, CacheMode } from '../../src';
import { expectBadInput } from '../support/bad-inputs';
import { close, listen, resumeChain, tlsServer } from '../support/tls';

describe('options are validated before anything native runs', () => {
  let server: tls.Server;
  beforeEach(() => {
    server = tlsServer({ noTickets: true });
  });
  afterEach(() => close(server.listening ? server : undefined));

  const cases: Array<[string, unknown, ErrorConstructor, RegExp]> = [
    ['options not an object', 5, TypeError, /"options" must be an object, got the number 5/],
    ['unknown group, near miss', { cahce: {} }, TypeError, /Unknown option "options.cahce". Did you mean "options.cache"\?/],
    ['unknown cache field', { cache: { sise: 5 } }, TypeError, /Unknown option "cache.sise". Did you mean "cache.size"\?/],
    ['cache not an object', { cache: true }, TypeError, /"cache" must be an object, got the boolean true/],
    ['cache.enabled not boolean', { cache: { enabled: 'yes' } }, TypeError, /"cache.enabled" must be a boolean, got the string "yes"/],
    ['cache.size not integer', { cache: { size: 1.5 } }, TypeError, /"cache.size" must be an integer, got the number 1.5/],
    ['cache.size negative', { cache: { size: -1 } }, RangeError, /"cache.size" must be between 0 and 2147483647 sessions, got -1/],
    ['cache.size too big', { cache: { size: 2 ** 31 } }, RangeError, /"cache.size" must be between 0 and 2147483647 sessions/],
    [
      'cache.timeoutSeconds zero',
      { cache: { timeoutSeconds: 0 } },
      RangeError,
      /"cache.timeoutSeconds" must be between 1 and 2147483647 seconds, got 0/,
    ],
    [
      'cache.timeoutSeconds too big',
      { cache: { timeoutSeconds: 2 ** 40 } },
      RangeError,
      /"cache.timeoutSeconds" must be between 1 and 2147483647 seconds/,
    ],
    [
      'cache.timeoutSeconds NaN',
      { cache: { timeoutSeconds: NaN } },
      TypeError,
      /"cache.timeoutSeconds" must be an integer, got the number NaN/,
    ],
    ['cache.mode unknown flag', { cache: { mode: 0x2 } }, RangeError, /"cache.mode" must be CacheMode flags OR-ed together .* got 0x2/],
    [
      'cache.mode a flag above bit 31 (2 ** 40 + 0x80)',
      { cache: { mode: 2 ** 40 + 0x80 } },
      RangeError,
      /"cache.mode" must be CacheMode flags OR-ed together .* got 0x10000000080/,
    ],
    ['tickets not an object', { tickets: null }, TypeError, /"tickets" must be an object, got null/],
    ['tickets.enabled not boolean', { tickets: { enabled: 1 } }, TypeError, /"tickets.enabled" must be a boolean, got the number 1/],
    [
      'tickets.tls13Count negative',
      { tickets: { tls13Count: -1 } },
      RangeError,
      /"tickets.tls13Count" must be between 0 and 16 tickets, got -1/,
    ],
    [
      'tickets.tls13Count too big',
      { tickets: { tls13Count: 17 } },
      RangeError,
      /"tickets.tls13Count" must be between 0 and 16 tickets, got 17/,
    ],
    [
      'tickets.tls13Count string',
      { tickets: { tls13Count: '2' } },
      TypeError,
      /"tickets.tls13Count" must be an integer, got the string "2"/,
    ],
  ];

  test.each(cases)('%s', async (name, options, type, message) => {
    expectBadInput('option', `${name}: ${JSON.stringify(options)}`, () => attach(server, options as never), type, message);
    // Nothing was applied: the server still behaves as stock Node (no session-ID resumption).
    const port = await listen(server);
    expect(await resumeChain(port, 2, { version: 'TLSv1.2' })).toBe(0);
  });

  test('a bad configure() changes nothing, even when an earlier field was valid', async () => {
    const cache = attach(server, { cache: { size: 10, timeoutSeconds: 60 } });
    expect(() => cache.configure({ cache: { size: 99, timeoutSeconds: -5 } })).toThrow(RangeError);
    expect(cache.stats().settings.cache).toMatchObject({ size: 10, timeoutSeconds: 60 });
  });

  test('the mode escape hatch ORs raw flags in', () => {
    const cache = attach(server, { cache: { mode: CacheMode.NO_AUTO_CLEAR | CacheMode.NO_INTERNAL_STORE } });
    expect(cache.stats().settings.cache.mode & 0x382).toBe(0x2 | 0x80 | 0x200);
  });

  test('targets other than servers and secure contexts are a TypeError', () => {
    expectBadInput(
      'target',
      'a plain object',
      () => attach({} as never),
      TypeError,
      /"target" must be a tls.Server, https.Server, http2 secure server or tls.SecureContext, got an object/,
    );
    expectBadInput('target', 'null', () => attach(null as never), TypeError, /got null/);
    expectBadInput(
      'target',
      'an object faking a SecureContext',
      () => attach({ context: { _external: 1 } } as never),
      TypeError,
      /"target" must be/,
    );
    const net = require('node:net');
    expectBadInput('target', 'a net.Server', () => attach(net.createServer() as never), TypeError, /got an instance of Server/);
  });

  test('flush({ all }) must be a boolean', () => {
    const cache = attach(server);
    expect(() => cache.flush({ all: 'yes' as never })).toThrow(/"all" must be a boolean/);
  });
});
