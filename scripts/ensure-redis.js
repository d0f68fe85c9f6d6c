#!/usr/bin/env node
// `npm test` needs a real redis-server binary (the fleet tests start their own on loopback).
// On a fresh Debian machine where we are root, install it from Debian's registry; elsewhere say
// exactly what to install.
const { execFileSync } = require('node:child_process');

function has(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!has('redis-server')) {
  if (process.getuid && process.getuid() === 0 && has('apt-get')) {
    process.stderr.write('redis-server not found: installing it with apt-get (Debian package redis-server)\n');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['install', '-y', '-q', 'redis-server'], { stdio: 'inherit', env });
    } catch {
      execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
      execFileSync('apt-get', ['install', '-y', '-q', 'redis-server'], { stdio: 'inherit', env });
    }
  } else {
    process.stderr.write('The fleet tests need redis-server on PATH (Debian/Ubuntu: apt-get install redis-server).\n');
    process.exit(1);
  }
}
