/**
 * Loads the addon for the running node, and refuses what it cannot serve. No side effects at
 * import: tests and tools load a given binary through it to check the refusal paths.
 */
import nodeGypBuild = require('node-gyp-build');

import { ErrorCodes, withCode } from './validate';

/** What every build of the addon reports about the headers it was compiled against. */
export interface BuildInfo {
  /** NODE_MODULE_VERSION of those headers. */
  builtForAbi: number;
  /** Node release of those headers, e.g. "v24.22.3". */
  builtForNode: string;
}

/** Node ABI (process.versions.modules) of each supported Node line. */
export const SUPPORTED_LINES: Readonly<Record<string, string>> = { '115': '20', '127': '22', '137': '24', '147': '26' };

function supportedText(): string {
  const abis = Object.keys(SUPPORTED_LINES);
  return `supported: Node.js ${abis.map((a) => SUPPORTED_LINES[a]).join(', ')} (ABIs ${abis.join(', ')})`;
}

/** What is running us, in the words a user would search for. */
export function describeRuntime(): string {
  const v = process.versions as Record<string, string | undefined>;
  if (v.bun !== undefined) return `Bun ${v.bun}`;
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  if (deno !== undefined) return `Deno ${deno.version?.deno ?? ''}`.trim();
  return `Node.js ${process.version} (ABI ${process.versions.modules})`;
}

/**
 * Loads the addon, refusing anything it cannot serve safely: the addon reads V8 objects and calls
 * the OpenSSL inside the running node directly, so a binary from another Node line, or a runtime
 * that is not Node, must fail here with an Error, never later with a dead process.
 */
export function loadBinding(root: string, load: (dir: string) => unknown = nodeGypBuild): BuildInfo {
  const runtime = describeRuntime();
  const v = process.versions as Record<string, string | undefined>;
  if (v.bun !== undefined || runtime.startsWith('Deno') || SUPPORTED_LINES[v.modules ?? ''] === undefined) {
    throw withCode(new Error(`tls-resumption: ${runtime} is not supported; ${supportedText()}`), ErrorCodes.unsupported);
  }
  let binding: BuildInfo;
  try {
    binding = load(root) as BuildInfo;
  } catch (err) {
    throw withCode(
      new Error(
        `tls-resumption: could not load the native addon in ${runtime}: ${(err as Error).message}; ` +
          `reinstall or run \`npm rebuild tls-resumption\` with this node; ${supportedText()}`,
        { cause: err },
      ),
      ErrorCodes.addonMismatch,
    );
  }
  if (String(binding.builtForAbi) !== v.modules) {
    throw withCode(
      new Error(
        `tls-resumption: the native addon was built for Node.js ${binding.builtForNode} (ABI ${binding.builtForAbi}) ` +
          `but runs in ${runtime}; run \`npm rebuild tls-resumption\` with this node; ${supportedText()}`,
      ),
      ErrorCodes.addonMismatch,
    );
  }
  return binding;
}
