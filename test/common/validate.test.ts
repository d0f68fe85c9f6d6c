/**
 * Bad arguments carry a stable `code`, as Node's own errors do, so callers branch on it instead
 * of matching message text; the messages stay as they were.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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

  test('a detached cache: Error ERR_INVALID_STATE, message unchanged', () => {
    const cache = attach(server);
    cache.detach();
    const err = thrown(() => cache.stats());
    expect(err.code).toBe('ERR_INVALID_STATE');
    expect(err.message).toBe('This session cache was detached.');
  });

  test('addSecret() on a generated ring: TypeError ERR_INVALID_STATE', () => {
    const err = thrown(() => TicketKeyRing.generate().addSecret(Buffer.alloc(32, 7)));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_INVALID_STATE');
    expect(err.message).toBe('addSecret() needs a ring made by TicketKeyRing.fromSecret().');
  });

  test('a store file of another size: ERR_TLS_RESUMPTION_STORE_REFUSED, the message naming the file', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'codes-')), 'store');
    const first = attach(server, { shared: { path: file, sizeBytes: 1 << 20 } });
    try {
      const other = tlsServer();
      try {
        const err = thrown(() => attach(other, { shared: { path: file, sizeBytes: 2 << 20 } }));
        expect(err.code).toBe('ERR_TLS_RESUMPTION_STORE_REFUSED');
        expect(err.message).toContain(file);
      } finally {
        other.close();
      }
    } finally {
      first.detach();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  test('nothing was half-applied', () => {
    expect(attach(server).options.cache.size).not.toBe(10);
    attach(server).detach();
  });
});

describe('the codes are one list', () => {
  test('docs/api.md#errors lists exactly ErrorCodes, each with a message', () => {
    const api = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');
    const section = api.slice(api.indexOf('\n## Errors'), api.indexOf('\n## CLI'));
    const rows = section.split('\n').filter((l) => /^\| `ERR_/.test(l));
    const documented = rows.map((l) => /^\| `(ERR_[A-Z0-9_]+)`/.exec(l)![1]);
    expect([...documented].sort()).toEqual([...Object.values(ErrorCodes)].sort());
    for (const row of rows) expect(row.split(' | ')[3]?.trim().length ?? 0).toBeGreaterThan(0);
  });

  test('no module of src/ spells a code outside the list', () => {
    const known = new Set<string>(Object.values(ErrorCodes));
    const spelled = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith(path.join('common', 'validate.ts'))) {
          for (const m of fs.readFileSync(p, 'utf8').matchAll(/'(ERR_[A-Z0-9_]+)'/g)) spelled.add(m[1]!);
        }
      }
    };
    walk(path.join(__dirname, '..', '..', 'src'));
    expect([...spelled].filter((c) => !known.has(c))).toEqual([]);
  });
});
