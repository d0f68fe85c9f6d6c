#!/usr/bin/env node
/**
 * Prints the package's public surface: every name each package.json export (and the bin's
 * module) exposes, with the declaration text of what it resolves to, one block per name, sorted.
 * Diff two runs (before/after a refactor) to see that only additions happened.
 * Usage: node scripts/public-api.js [distDir]   (default: dist; run `tsc -p tsconfig.json` first)
 */
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.join(__dirname, '..');
const dist = path.resolve(process.argv[2] ?? path.join(root, 'dist'));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const entries = {};
for (const [sub, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'object' && target.types) entries[sub] = path.join(dist, path.relative('dist', target.types));
}
const program = ts.createProgram(Object.values(entries), { strict: true, skipLibCheck: true, types: ['node'] });
const checker = program.getTypeChecker();
const printed = new Set();
const out = [];

function declText(decl) {
  return decl
    .getText()
    .replace(/\/\*\*[\s\S]*?\*\//g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

for (const [sub, file] of Object.entries(entries).sort()) {
  const sf = program.getSourceFile(file);
  if (!sf) throw new Error(`no ${file}`);
  const mod = checker.getSymbolAtLocation(sf);
  for (const sym of checker.getExportsOfModule(mod).sort((a, b) => a.name.localeCompare(b.name))) {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const texts = (target.declarations ?? []).map(declText).sort();
    out.push(`${sub} ${sym.name}\n  ${texts.join('\n  ')}`);
    printed.add(target);
  }
}
process.stdout.write(`${out.join('\n')}\n`);
