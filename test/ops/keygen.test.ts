import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';

import { cli } from '../support/cli';
import { close, connect, listen, tlsServer } from '../support/tls';

describe('keygen: fresh key material, mode 0600', () => {
  let dir: string;
  const servers: tls.Server[] = [];
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsc-keygen-'))));
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => close(s)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each([
    ['nginx', 80],
    ['node', 48],
    ['secret', 32],
  ])('--format %s writes %d raw bytes with mode 0600', async (format, bytes) => {
    const out = path.join(dir, `${format}.key`);
    const r = await cli(['keygen', '--format', format, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const st = fs.statSync(out);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(bytes);
    expect(fs.readdirSync(dir)).toEqual([`${format}.key`]); // no temporary file left behind
  });

  test('--format haproxy writes 3 base64 lines of 80-byte keys, all different', async () => {
    const out = path.join(dir, 'tls-ticket-keys');
    expect((await cli(['keygen', '--format', 'haproxy', '--out', out])).code).toBe(0);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(Buffer.from(l, 'base64')).toHaveLength(80);
    expect(new Set(lines).size).toBe(3);
  });

  test("node keys from keygen make two servers accept each other's TLS 1.2 tickets", async () => {
    const out = path.join(dir, 'node.key');
    expect((await cli(['keygen', '--format', 'node', '--out', out])).code).toBe(0);
    const keys = fs.readFileSync(out);
    const a = tlsServer({ ticketKeys: keys });
    const b = tlsServer({ ticketKeys: keys });
    servers.push(a, b);
    const pa = await listen(a);
    const pb = await listen(b);
    const first = await connect(pa, { version: 'TLSv1.2' });
    expect((await connect(pb, { version: 'TLSv1.2', session: first.session })).reused).toBe(true);
    // Control: a server with other keys cannot.
    const c = tlsServer();
    servers.push(c);
    expect((await connect(await listen(c), { version: 'TLSv1.2', session: first.session })).reused).toBe(false);
  });

  test('refuses without --out or --base64, refuses to overwrite without --force, --base64 prints text', async () => {
    const none = await cli(['keygen', '--format', 'nginx']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--out FILE is required/);
    expect(none.stdout).toBe('');

    const out = path.join(dir, 'k');
    expect((await cli(['keygen', '--format', 'secret', '--out', out])).code).toBe(0);
    const before = fs.readFileSync(out);
    const again = await cli(['keygen', '--format', 'secret', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists; pass --force/);
    expect(fs.readFileSync(out)).toEqual(before);
    expect((await cli(['keygen', '--format', 'secret', '--out', out, '--force'])).code).toBe(0);
    expect(fs.readFileSync(out).equals(before)).toBe(false);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);

    const b64 = await cli(['keygen', '--format', 'nginx', '--base64']);
    expect(b64.code).toBe(0);
    expect(Buffer.from(b64.stdout.trim(), 'base64')).toHaveLength(80);

    const bad = await cli(['keygen', '--format', 'apache', '--out', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format must be one of nginx, node, haproxy, secret, got "apache"/);
  });
});
