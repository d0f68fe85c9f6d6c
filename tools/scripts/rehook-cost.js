// Cost of the per-connection re-hook of the shared store's session callbacks: Node resets them in
// every TLSWrap constructor, and the server's 'connection' listener calls native.sharedRehook.
// Prints CPU ns per call over 2,000,000 calls (process.cpuUsage, so the machine's load does not
// inflate it). Run after `npm run build:ts`: node tools/scripts/rehook-cost.js
const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');

const dist = path.join(__dirname, '..', '..', 'dist');
const { selfSignedCertificate } = require(path.join(dist, 'ops', 'certificate'));
const { attach } = require(path.join(dist, 'server', 'attach'));
const { native } = require(path.join(dist, 'common', 'native'));

const cert = selfSignedCertificate('localhost');
const server = tls.createServer({ key: cert.key, cert: cert.cert });
const cache = attach(server, { shared: { name: `rehook-cost-${process.pid}`, sizeBytes: 1 << 20 } });
const handle = native.attach(server._sharedCreds.context._external);
const N = 2e6;
for (let i = 0; i < 1e5; i++) native.sharedRehook(handle);
const t0 = process.cpuUsage();
for (let i = 0; i < N; i++) native.sharedRehook(handle);
const d = process.cpuUsage(t0);
console.log(`sharedRehook: ${(((d.user + d.system) * 1000) / N).toFixed(1)} ns CPU per call (${N} calls)`);
fs.rmSync(cache.stats().shared.path, { force: true });
