/**
 * What TypeScript users get, checked with the compiler under --strict: typed handle events (a
 * misspelled event name does not compile), `ring.add` taking a string only with
 * `format: 'haproxy'`, and the subpath entries resolving under every moduleResolution a project
 * may use (node10, TypeScript's default for `module: commonjs`, through package.json's
 * typesVersions; node16 and bundler through its exports), against the built package (dist/,
 * made by `npm run pretest`) installed in a fresh project as a link.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

import { repoRoot } from './support/build';
import { COMMONJS, TsProject } from './support/ts-project';

let project: TsProject;
beforeAll(() => {
  project = new TsProject();
});
afterAll(() => project.remove());

/** Compiles `source` as the project's only file; returns the diagnostics as `line: message`. */
function compile(source: string, options: ts.CompilerOptions): string[] {
  return project.compile({ 'use.ts': source }, options).map((d) => d.replace(/^use\.ts:/, ''));
}

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

  // Every entry package.json exports, so an entry added there is checked here too.
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const entries = Object.keys(pkg.exports).filter((e) => e !== './package.json');
  const SUBPATHS = [
    ...entries.map((e, i) => `import * as entry${i} from '${e === '.' ? 'tls-resumption' : `tls-resumption/${e.slice(2)}`}';`),
    `export const used = [${entries.map((_, i) => `Object.keys(entry${i}).length`).join(', ')}];`,
  ].join('\n');
  test.each([
    ['node10 (module commonjs)', COMMONJS],
    ['node16', { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 }],
    ['bundler', { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }],
  ])('the subpath entries resolve under moduleResolution %s', (_name, options) => {
    expect(compile(SUBPATHS, options)).toEqual([]);
  });
});
