#!/usr/bin/env node
// The workspace's bin: a committed file, so npm links it at install time, before `prepare` has
// compiled tools/dist (a bin pointing into dist/ would not be linked on a fresh clone).
require('../dist/cli/main.js');
