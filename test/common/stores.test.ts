/**
 * Named stores outlive every process: listSharedStores() / removeSharedStore() and
 * `tls-resumption stores list|remove` (src/common/shared-store.ts, src/cli/stores.ts), on real store
 * files under /dev/shm attached by real servers.
 */
import * as fs from 'node:fs';
import { listSharedStores, removeSharedStore, sharedStorePath } from '../../src/common/shared-store';
import { attach } from '../../src/server/attach';
import { expectBadInput } from '../support/bad-inputs';
import { cli } from '../support/cli';
import { storeNames } from '../support/store-names';
import { close, tlsServer } from '../support/tls';

const stores = storeNames('s');

describe('named stores: list and remove', () => {
  test('list shows each store with its size and whether a process has it attached; remove refuses an attached one unless forced', async () => {
    const [attached, idle] = [stores.name('attached'), stores.name('idle')];
    const servers = [tlsServer(), tlsServer()];
    const keep = attach(servers[0]!, { shared: { name: attached, sizeBytes: 1 << 20 } });
    attach(servers[1]!, { shared: { name: idle, sizeBytes: 2 << 20, slotBytes: 512 } }).detach();
    try {
      const mine = listSharedStores().filter((s) => s.name === attached || s.name === idle);
      expect(mine).toEqual([
        expect.objectContaining({
          name: attached,
          path: sharedStorePath(attached),
          sizeBytes: 1 << 20,
          slotBytes: 384,
          layoutVersion: 4,
          inUse: true,
        }),
        expect.objectContaining({ name: idle, sizeBytes: 2 << 20, slotBytes: 512, inUse: false }),
      ]);
      expect(mine[0]!.capacity).toBe(keep.stats().shared!.capacity);

      const listed = await cli(['stores', 'list', '--json']);
      expect(listed.code).toBe(0);
      expect((JSON.parse(listed.stdout) as Array<{ name: string; inUse: boolean }>).filter((s) => s.name === attached)).toEqual([
        expect.objectContaining({ inUse: true }),
      ]);
      expect((await cli(['stores', 'list'])).stdout).toMatch(new RegExp(`${idle} +2\\.0 MiB .* layout 4 +unused`));

      const refused = await cli(['stores', 'remove', attached]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/is attached by a running process; detach it there first, or pass --force/);
      expect(fs.existsSync(sharedStorePath(attached))).toBe(true);
      expect(() => removeSharedStore(attached)).toThrow(expect.objectContaining({ code: 'ERR_TLS_RESUMPTION_STORE_IN_USE' }));

      const removed = await cli(['stores', 'remove', idle]);
      expect(removed).toMatchObject({ code: 0, stdout: `removed ${idle}\n` });
      expect(fs.existsSync(sharedStorePath(idle))).toBe(false);
      expect(await cli(['stores', 'remove', idle])).toMatchObject({ code: 1, stderr: `stores: no named store "${idle}"\n` });
      expect(removeSharedStore(idle)).toBe(false);

      expect(removeSharedStore(attached, { force: true })).toBe(true);
      expect(listSharedStores().map((s) => s.name)).not.toContain(attached);
      // The attached server keeps the removed file and keeps working.
      expect(keep.stats().shared!.capacity).toBeGreaterThan(0);
    } finally {
      keep.detach();
      await Promise.all(servers.map(close));
    }
  });

  test('bad input: clear errors, nothing removed', async () => {
    const bad = (input: string, fn: () => unknown, type: new () => Error, message: RegExp) =>
      expectBadInput('store option', `removeSharedStore: ${input}`, fn, type, message);
    bad(
      'name with a slash',
      () => removeSharedStore('a/b'),
      RangeError,
      /"name" must be 1 to 64 characters of A-Z a-z 0-9 _ \. -, got "a\/b"/,
    );
    bad('name not a string', () => removeSharedStore(7 as never), TypeError, /"name" must be a string, got the number 7/);
    bad(
      'misspelled option',
      () => removeSharedStore('x', { forse: true } as never),
      TypeError,
      /Unknown option "options.forse". Did you mean "options.force"\?/,
    );
    bad('force not a boolean', () => removeSharedStore('x', { force: 'yes' as never }), TypeError, /"force" must be a boolean/);
    expect(await cli(['stores'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^stores: missing action\n\nusage: tls-resumption stores list/),
    });
    expect(await cli(['stores', 'remove'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/unexpected arguments for "remove"/) });
  });
});
