#!/usr/bin/env node
/**
 * `tls-resumption-tools <command>` (bench, loadgen): the repository's development commands,
 * dispatched like the package's own CLI. Linked into node_modules/.bin by the root's npm
 * workspace, so `npx tls-resumption-tools bench` works in a clone.
 */
import { runCli } from '../../../dist/cli/main';

runCli('tls-resumption-tools', __dirname, process.argv.slice(2));
