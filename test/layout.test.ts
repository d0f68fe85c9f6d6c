/**
 * The shape of src/: no import cycles (type-only imports included: a cycle of types is still a
 * knot a reader has to untie), and the rooms depend one way. common/ is what the server side and
 * the client side both use, so it imports neither; server/ and client/ import common/ and not each
 * other; ops/ (probe, providers, inspect, keygen, metrics, certificate) may use all three; the
 * entries (index.ts, entries/, cli/) sit on top and nothing imports them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const src = path.join(__dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of a file, resolved to files under src/ (from, import(), require(), export ... from). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)(['"])(\.[^'"]*)\1/gm)].map((m) => m[2]!);
  return specs.map((spec) => {
    const base = path.resolve(path.dirname(file), spec);
    const hit = [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
    if (!hit) throw new Error(`${path.relative(src, file)}: cannot resolve ${spec}`);
    return hit;
  });
}

const files = sourceFiles(src);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string): string => path.relative(src, f);

/** Every cycle, each reported once as the path around it. */
function cycles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const next of graph.get(f) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next].map(rel));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

/** The room a file lives in: its first folder under src/, or 'entries' for src/index.ts. */
function room(f: string): string {
  const first = rel(f).split(path.sep)[0]!;
  return first.endsWith('.ts') ? 'entries' : first;
}

/** Which rooms each room may import from (besides itself). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  common: ['types'],
  server: ['common', 'types'],
  client: ['common', 'types'],
  ops: ['common', 'server', 'client', 'types'],
  entries: ['common', 'server', 'client', 'ops', 'types'],
  cli: ['common', 'server', 'client', 'ops', 'types'],
  types: [],
};

describe('src/ layout', () => {
  test('no import cycles', () => {
    expect(cycles()).toEqual([]);
  });

  test('every file is in a known room', () => {
    expect(files.map(room).filter((r) => !(r in MAY_IMPORT))).toEqual([]);
  });

  test('rooms import one way: common <- server, client <- ops <- entries, cli', () => {
    const wrong: string[] = [];
    for (const [f, deps] of graph) {
      const from = room(f);
      for (const d of deps) {
        const to = room(d);
        if (to !== from && !(MAY_IMPORT[from] ?? []).includes(to)) wrong.push(`${rel(f)} -> ${rel(d)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
