#!/usr/bin/env node
// Reads the LeakSanitizer/AddressSanitizer report files of a leak-check run (a directory of
// log_path files) and decides: FAIL when a leak's allocation stack has a frame in this package's
// addon (tls_resumption.node), or when AddressSanitizer reported any error other than leaks.
// Leaks whose stacks are Node's and V8's alone are listed as a count only (Node does not free
// everything at exit). Needs reports written with stack_trace_format ending in "<%m>" (module).
// Usage: node scripts/lsan-filter.js <report-dir>    exit 0: clean, 1: addon leak or ASan error

const fs = require('node:fs');
const path = require('node:path');

const ADDON = /\/tls_resumption\.node>\s*$/;
const dir = process.argv[2];
const files = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];

const ours = [];
let otherLeaks = 0;
let otherBytes = 0;
const errors = [];
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^==\d+==ERROR: AddressSanitizer: .*$/gm)) errors.push(`${path.basename(file)}: ${m[0]}`);
  // One block per leak: "Direct|Indirect leak of N byte(s) in K object(s) allocated from:" and
  // its frames, up to the blank line.
  for (const block of text.split(/\n\s*\n/)) {
    const head = /^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object/m.exec(block);
    if (!head) continue;
    const lines = block.trim().split('\n');
    // First 20 lines of each: enough to see our frame and who called it.
    if (lines.some((line) => ADDON.test(line))) ours.push(`${path.basename(file)}:\n${lines.slice(0, 20).join('\n')}`);
    else {
      otherLeaks++;
      otherBytes += Number(head[2]);
    }
  }
}

const result = { reportFiles: files.length, addonLeaks: ours.length, otherLeaks, otherLeakBytes: otherBytes, asanErrors: errors.length };
if (ours.length > 0) {
  process.stdout.write(`leaks with a frame in tls_resumption.node:\n\n${ours.join('\n\n')}\n\n`);
}
for (const e of errors) process.stdout.write(`${e}\n`);
process.stdout.write(`lsan-filter: ${JSON.stringify(result)}\n`);
process.exit(ours.length > 0 || errors.length > 0 ? 1 : 0);
