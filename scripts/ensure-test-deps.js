#!/usr/bin/env node
// `npm test` needs these from Debian beside Node: redis-server (the fleet tests start their own
// on loopback), clang with libFuzzer and libssl-dev (the fuzz corpus replay builds the
// standalone fuzz targets), clang-format (the C++ formatting check), and a software PKCS#11
// token with its engine and tools (the hardware-key tests: softhsm2, libengine-pkcs11-openssl,
// and opensc for pkcs11-tool and pkcs11-spy). On a fresh Debian machine where we are root,
// install what is missing from Debian's registry; elsewhere say exactly what to install.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function has(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function fuzzerRuntime() {
  try {
    const dir = execFileSync('clang++', ['-print-resource-dir'], { encoding: 'utf8' }).trim();
    return fs.existsSync(path.join(dir, 'lib', 'linux', 'libclang_rt.fuzzer-x86_64.a'));
  } catch {
    return false;
  }
}

const missing = [];
if (!has('redis-server')) missing.push('redis-server');
// The mixed-fleet interop tests (test/server/interop-nginx-haproxy.test.ts) run the real servers.
if (!fs.existsSync('/usr/sbin/nginx')) missing.push('nginx');
if (!fs.existsSync('/usr/sbin/haproxy')) missing.push('haproxy');
if (!has('clang++') || !fuzzerRuntime()) missing.push('clang', 'libclang-rt-14-dev');
if (!fs.existsSync('/usr/include/openssl/ssl.h')) missing.push('libssl-dev');
if (!has('softhsm2-util') || !fs.existsSync('/usr/lib/softhsm/libsofthsm2.so')) missing.push('softhsm2');
if (!fs.existsSync('/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so')) missing.push('libengine-pkcs11-openssl');
if (!has('pkcs11-tool') || !fs.existsSync('/usr/lib/x86_64-linux-gnu/pkcs11-spy.so')) missing.push('opensc');
// scripts/check-format.js (pretest) checks the C++ formatting with it.
if (!has('clang-format')) missing.push('clang-format');

if (missing.length > 0) {
  if (process.getuid && process.getuid() === 0 && has('apt-get')) {
    process.stderr.write(`installing test dependencies with apt-get: ${missing.join(' ')}\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['install', '-y', '-q', ...missing], { stdio: 'inherit', env });
    } catch {
      execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
      execFileSync('apt-get', ['install', '-y', '-q', ...missing], { stdio: 'inherit', env });
    }
  } else {
    process.stderr.write(`The tests need these Debian/Ubuntu packages: apt-get install ${missing.join(' ')}\n`);
    process.exit(1);
  }
}
