/**
 * What TypeScript users get, checked with the compiler under --strict: typed handle events (a
 * misspelled event name does not compile), `ring.add` taking a string only with
 * `format: 'haproxy'`, and the subpath entries resolving under every moduleResolution a project
 * may use (node10, TypeScript's default for `module: commonjs`, through package.json's
 * typesVersions; node16 and bundler through its exports), against the built package (dist/,
 * made by `npm run pretest`) installed in a fresh project as a link.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';

import { repoRoot } from './support/build';

let project: string;
beforeAll(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-types-'));
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(repoRoot, path.join(project, 'node_modules', 'tls-resumption'));
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

/** Compiles `source` as the project's only file; returns the diagnostics as `line: message`. */
function compile(source: string, options: ts.CompilerOptions): string[] {
  const file = path.join(project, 'use.ts');
  fs.writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
    ...options,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]}`;
  });
}

const COMMONJS = { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 };

describe('types under --strict', () => {
  test('handle events are typed: messages by event, a misspelled event name fails to compile', () => {
    const errors = compile(
      [
        "import * as tls from 'node:tls';",
        "import { attach } from 'tls-resumption';",
        'const cache = attach(tls.createServer());',
        "cache.on('ticketRotate', (m) => m.keyId.toUpperCase());",
        "cache.on('fleetError', ({ error }) => error.code);",
        "cache.once('flush', (m) => m.removed + 1);",
        "cache.on('fleetErorr', () => undefined);",
        "cache.on('keyRemoved', (m) => m.reason === 'expired');",
      ].join('\n'),
      COMMONJS,
    );
    expect(errors).toEqual([
      expect.stringMatching(/^7: .*'"fleetErorr"' is not assignable to parameter of type 'keyof SessionCacheEvents'/),
      expect.stringMatching(/^8: This comparison appears to be unintentional/),
    ]);
  });

  test("ring.add: a string key compiles only with format: 'haproxy'", () => {
    const errors = compile(
      [
        "import { TicketKeyRing } from 'tls-resumption';",
        'const ring = TicketKeyRing.generate();',
        'ring.add(new Uint8Array(80));',
        "ring.add(Buffer.alloc(48), { format: 'node', encrypt: true });",
        "ring.add('bGluZQ==', { format: 'haproxy' });",
        "ring.add('bGluZQ==');",
        "ring.add('bGluZQ==', { format: 'nginx' });",
      ].join('\n'),
      COMMONJS,
    );
    expect(errors).toEqual([
      expect.stringMatching(/^6: Argument of type 'string' is not assignable to parameter of type 'Uint8Array/),
      expect.stringMatching(/^7: No overload matches this call/),
    ]);
  });

  const SUBPATHS = [
    "import { SessionCacheMetrics } from 'tls-resumption/metrics';",
    "import { probe } from 'tls-resumption/probe';",
    "import { providers } from 'tls-resumption/providers';",
    "import { attach } from 'tls-resumption';",
    'export const used = [SessionCacheMetrics, probe, providers, attach];',
  ].join('\n');
  const prom = { paths: { 'prom-client': [path.join(repoRoot, 'node_modules', 'prom-client')] } };
  test.each([
    ['node10 (module commonjs)', { ...COMMONJS, ...prom }],
    ['node16', { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, ...prom }],
    ['bundler', { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, ...prom }],
  ])('the subpath entries resolve under moduleResolution %s', (_name, options) => {
    expect(compile(SUBPATHS, options)).toEqual([]);
  });
});
