/**
 * Every ```ts example in README.md and docs/ compiles under --strict against the package as a
 * user installs it (dist/ and package.json's exports and typesVersions, through a link in a fresh
 * project), under moduleResolution node10 (TypeScript's default for `module: commonjs`) and node16.
 * A documented name that is not exported, a misspelled option or a wrong argument fails here.
 *
 * Examples are fragments: the names they use without defining (`server`, `cache`, `key`...) are
 * declared once below with the types a user's would have, a name exported by an entry of this
 * package that an example uses without importing it is imported from that entry, and the body
 * runs inside an async function (top-level `await` in the examples).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { repoRoot } from './support/build';
import { COMMONJS, NODE16, TsProject } from './support/ts-project';

interface Example {
  doc: string;
  /** Index among the doc's ```ts blocks. */
  index: number;
  /** Line of the block's first code line in the doc. */
  line: number;
  code: string;
}

/** README.md and every page in docs/. */
function docFiles(): string[] {
  return [
    'README.md',
    ...fs
      .readdirSync(path.join(repoRoot, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
}

function examples(): Example[] {
  const docs = docFiles();
  const out: Example[] = [];
  for (const doc of docs) {
    const text = fs.readFileSync(path.join(repoRoot, doc), 'utf8');
    let index = 0;
    for (const m of text.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
      out.push({ doc, index: index++, line: text.slice(0, m.index).split('\n').length + 1, code: m[1]! });
    }
  }
  return out;
}

/** The names the examples use without defining them, as a user's program would have them. */
const AMBIENT = `
import type * as https from 'node:https';
import type { Registry } from 'prom-client';
import type Redis from 'ioredis';
import type { ClientSessionCache, SessionCacheHandle, TicketKeyRing } from 'tls-resumption';
declare global {
  const server: https.Server;
  const apiServer: https.Server;
  const webServer: https.Server;
  const key: string;
  const cert: string;
  const handler: https.RequestListener;
  const app: https.RequestListener;
  const cache: SessionCacheHandle;
  const handle: SessionCacheHandle;
  const sessions: ClientSessionCache;
  const ring: TicketKeyRing;
  const keyRing: TicketKeyRing;
  const otherRing: TicketKeyRing;
  const keyId: string;
  const oldSecretId: string;
  const newSecret: Uint8Array;
  const secret32Bytes: Uint8Array;
  const fleetSecret32Bytes: Uint8Array;
  const redisClient: Redis;
  const redis: Redis;
  const secret: Uint8Array;
  const registry: Registry;
  const meterProvider: import('@opentelemetry/api').MeterProvider;
  const log: { warn(message: string): void };
  const fs: typeof import('node:fs');
}
export {};
`;

/** Each entry's exported names (from package.json's exports, loaded from dist/). */
function entryExports(): Map<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { exports: Record<string, { default?: string }> };
  const byName = new Map<string, string>();
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || !target.default) continue;
    const specifier = entry === '.' ? 'tls-resumption' : `tls-resumption/${entry.slice(2)}`;
    for (const name of Object.keys(require(path.join(repoRoot, target.default)) as object))
      if (!byName.has(name)) byName.set(name, specifier);
  }
  return byName;
}

/** The example as a module: its imports, the package names it uses unimported, its body in an async function. */
function asModule(example: Example, exported: Map<string, string>): string {
  const lines = example.code.split('\n');
  const imports = lines.filter((l) => /^import\s/.test(l));
  // Relative imports are from the repo's root (the benchmark example runs in a clone, on the
  // tools' compiled JS, whose types are their TypeScript sources). Trailing comments would swallow line 1.
  const fixed = imports.map((l) =>
    l
      .replace(/\s*\/\/.*$/, '')
      .replace(/from '\.\/([^']+)'/, (_m, p: string) => `from '${path.join(repoRoot, p.replace(/^tools\/dist\//, 'tools/src/'))}'`),
  );
  const body = lines.map((l) => (/^import\s/.test(l) ? '' : l));
  const imported = new Set(imports.flatMap((l) => [...l.matchAll(/\b([A-Za-z_$][\w$]*)\b/g)].map((m) => m[1]!)));
  const missing = new Map<string, string[]>();
  for (const [name, specifier] of exported) {
    if (imported.has(name) || !new RegExp(`(?<![.\\w$])${name.replace(/\$/g, '\\$')}\\b`).test(body.join('\n'))) continue;
    missing.set(specifier, [...(missing.get(specifier) ?? []), name]);
  }
  const auto = [...missing].map(([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}';`);
  // Same line numbers as the block: imports stay on their lines (blanked in the body), the added ones share line 1.
  return [`${auto.join(' ')} ${fixed.join(' ')} export async function example(): Promise<void> {`, ...body, '}'].join('\n');
}

let project: TsProject;
beforeAll(() => {
  project = new TsProject();
});
afterAll(() => project.remove());

const all = examples();

test('the docs hold ts examples to check', () => {
  expect(all.length).toBeGreaterThanOrEqual(20);
});

test.each([
  ['node10 (module commonjs)', COMMONJS],
  ['node16', NODE16],
])('every example compiles under --strict, moduleResolution %s', (_name, options) => {
  const exported = entryExports();
  const files: Record<string, string> = { 'ambient.d.ts': AMBIENT };
  const where = new Map<string, Example>();
  all.forEach((e, i) => {
    const name = `example${i}.ts`;
    files[name] = asModule(e, exported);
    where.set(name, e);
  });
  const errors = project.compile(files, { ...options, esModuleInterop: true }).map((d) => {
    const m = /^(example\d+\.ts):(\d+): (.*)$/.exec(d);
    const e = m ? where.get(m[1]!) : undefined;
    // Point at the doc's own line: the file's line n is the block's line n - 1 (line 1 is the header).
    return e && m ? `${e.doc}:${e.line + Number(m[2]) - 2}: ${m[3]}` : d;
  });
  expect(errors).toEqual([]);
});

// The docs name the test that shows each claim; a moved or renamed test must not leave a
// citation behind that a reader cannot follow.
test('every test file README.md, CHANGELOG.md and docs/ cite exists', () => {
  const docs = [
    'README.md',
    'CHANGELOG.md',
    ...fs
      .readdirSync(path.join(repoRoot, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const missing: string[] = [];
  for (const doc of docs) {
    const text = fs.readFileSync(path.join(repoRoot, doc), 'utf8');
    for (const [cited] of text.matchAll(/\b(?:tools\/)?test\/[\w/.-]+\.test\.ts\b/g)) {
      if (!fs.existsSync(path.join(repoRoot, cited))) missing.push(`${doc}: ${cited}`);
    }
  }
  expect(missing).toEqual([]);
});
