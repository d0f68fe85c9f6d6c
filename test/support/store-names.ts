/**
 * Named shared stores for one test file: names unique to this run (`<tag><pid>-<label>`), and
 * their files (and any other store file given to `track`) removed after the file's tests.
 */
import * as fs from 'node:fs';

import { sharedStorePath } from '../../src/common/shared-store';

/** Registers an afterAll that removes every store file handed out by `name` or passed to `track`. */
export function storeNames(tag: string): { name(label: string): string; track(file: string): void } {
  const created: string[] = [];
  afterAll(() => {
    for (const file of created) fs.rmSync(file, { force: true });
  });
  return {
    name(label) {
      const name = `${tag}${process.pid}-${label}`;
      created.push(sharedStorePath(name));
      return name;
    },
    track: (file) => void created.push(file),
  };
}
