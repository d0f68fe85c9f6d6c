/**
 * What a CLI user reads (src/cli/): `--version`, errors that name the flags the user typed (never
 * the API's field names, never a doubled prefix), keygen naming the user's path; and probe()
 * refusing an unknown option as attach() does.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { probe, probeFleet } from '../../src/ops/probe';
import { repoRoot } from '../support/build';
import { cli } from '../support/cli';

describe('CLI messages', () => {
  test('--version prints the package version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  test('probe names --timeout and --connections, once prefixed', async () => {
    expect(await cli(['probe', '127.0.0.1:1', '--timeout', '5'])).toMatchObject({
      code: 2,
      stderr: 'probe: "--timeout" must be an integer between 100 and 60000 milliseconds, got 5.\n',
    });
    expect(await cli(['probe', '127.0.0.1:1', '--connections', '50'])).toMatchObject({
      code: 2,
      stderr: 'probe: "--connections" must be an integer between 2 and 20, got 50.\n',
    });
  });

  test('keygen --out into a missing directory names that directory, not a temporary file', async () => {
    const missing = path.join(os.tmpdir(), `tsc-missing-${process.pid}`, 'k');
    const r = await cli(['keygen', '--format', 'nginx', '--out', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `tls-resumption: keygen: cannot write ${missing}: the directory ${path.dirname(missing)} does not exist (ERR_INVALID_ARG_VALUE)\n`,
    );
  });
});

describe('probe() options', () => {
  test('an unknown option is refused, naming the nearest known one', async () => {
    await expect(probe('127.0.0.1', 443, { conections: 5 } as never)).rejects.toThrow(
      new TypeError('Unknown option "options.conections". Did you mean "options.connections"?'),
    );
    await expect(probeFleet({ host: '127.0.0.1', port: 1 }, { host: '127.0.0.1', port: 2 }, { timeout: 5 } as never)).rejects.toThrow(
      /Unknown option "options.timeout". Did you mean "options.timeoutMs"\?/,
    );
  });
});
