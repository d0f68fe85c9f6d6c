/**
 * A fresh TypeScript project that has this package installed as a user would (a link to the
 * repo, which `npm run pretest` has built into dist/), and every package this repo has installed
 * beside it (ioredis, undici, prom-client, @opentelemetry/api...), compiled under --strict.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';

import { repoRoot } from './build';

export const COMMONJS: ts.CompilerOptions = { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 };
export const NODE16: ts.CompilerOptions = { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 };

export class TsProject {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-ts-'));

  constructor() {
    const modules = path.join(this.dir, 'node_modules');
    fs.mkdirSync(modules);
    fs.symlinkSync(repoRoot, path.join(modules, 'tls-resumption'));
    for (const name of fs.readdirSync(path.join(repoRoot, 'node_modules'))) {
      if (name.startsWith('.') || name === 'tls-resumption') continue;
      fs.symlinkSync(path.join(repoRoot, 'node_modules', name), path.join(modules, name));
    }
  }

  /** Writes `files` (name -> source) into the project and compiles them; the diagnostics as `file:line: message`. */
  compile(files: Record<string, string>, options: ts.CompilerOptions): string[] {
    const names = Object.entries(files).map(([name, source]) => {
      const file = path.join(this.dir, name);
      fs.writeFileSync(file, source);
      return file;
    });
    const program = ts.createProgram(names, {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      types: ['node'],
      ...options,
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const where =
        d.file && d.start !== undefined
          ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}`
          : '';
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]}`;
    });
  }

  /** Writes each of `files` (name.ts -> source) into the project as name.js, transpiled to CommonJS without type checking. */
  transpile(files: Record<string, string>): void {
    for (const [name, source] of Object.entries(files)) {
      const js = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      }).outputText;
      fs.writeFileSync(path.join(this.dir, name.replace(/\.ts$/, '.js')), js);
    }
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
