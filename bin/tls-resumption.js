#!/usr/bin/env node
// The package's bin: a committed file with its execute bit (git and npm pack keep it). A bin
// pointing into dist/ lost that bit whenever dist/ was rebuilt (tsc writes files 0644), so
// `npx tls-resumption` in a clone failed with "Permission denied".
const path = require('node:path');

const dir = path.join(__dirname, '..', 'dist', 'cli');
require(path.join(dir, 'main.js')).runCli('tls-resumption', dir, process.argv.slice(2));
