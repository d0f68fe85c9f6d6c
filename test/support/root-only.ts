/**
 * Tests that need root (mount a tmpfs, chown a file, run a child as another local user). Elsewhere
 * they are skipped, never passed: the title says why, and scripts/test-lines.sh counts the skip.
 */
export const isRoot = process.getuid?.() === 0;

export function rootOnly(title: string, fn: jest.ProvidesCallback, timeout?: number): void {
  (isRoot ? test : test.skip)(`${title} [root only: skipped when not root]`, fn, timeout);
}
