/**
 * Bad arguments carry a stable `code`, as Node's own errors do, so callers branch on it instead
 * of matching message text; the messages stay as they were.
 */
import { ErrorCodes } from '../../src/common/validate';
import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { tlsServer } from '../support/tls';

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('did not throw');
}

describe('error codes', () => {
  const server = tlsServer();
  afterAll(() => server.close());

  test('wrong type: TypeError ERR_INVALID_ARG_TYPE', () => {
    const err = thrown(() => attach(server, { cache: { size: 'big' as unknown as number } }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(err.message).toBe('"cache.size" must be an integer, got the string "big".');
  });

  test('out of range: RangeError ERR_OUT_OF_RANGE', () => {
    const err = thrown(() => attach(server, { cache: { timeoutSeconds: -1 } }));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_OUT_OF_RANGE');
    expect(err.message).toMatch(/^"cache\.timeoutSeconds" must be between 1 and \d+ seconds?, got -1\.$/);
  });

  test('a string not among the accepted ones: RangeError ERR_INVALID_ARG_VALUE', () => {
    const ring = TicketKeyRing.generate();
    const err = thrown(() => ring.add(Buffer.alloc(80, 1), { format: 'pem' as 'node' }));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toBe('"format" must be one of "nginx", "node", "haproxy", got the string "pem".');
  });

  test('an unknown option: TypeError ERR_TLS_RESUMPTION_UNKNOWN_OPTION, naming the nearest option', () => {
    const err = thrown(() => attach(server, { cache: { sise: 10 } as object }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_TLS_RESUMPTION_UNKNOWN_OPTION');
    expect(err.message).toBe('Unknown option "cache.sise". Did you mean "cache.size"?');
  });

  test('nothing was half-applied, and the codes are the documented ones', () => {
    expect(attach(server).options.cache.size).not.toBe(10);
    expect(Object.values(ErrorCodes).sort()).toEqual(
      ['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE', 'ERR_TLS_RESUMPTION_UNKNOWN_OPTION'].sort(),
    );
    attach(server).detach();
  });
});
