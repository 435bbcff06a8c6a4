import { mkdtemp, rm } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { readMountInfo, unmount } from '../../src/mount';

/**
 * A fresh directory, short (/tmp/sXXXXXX) so a 128-layer chain of absolute
 * paths under it fits in one page. Removed after the test, anything mounted
 * under it first, even when the test failed half-way.
 */
export async function tempRoot(t: TestContext): Promise<string> {
  const root = await mkdtemp('/tmp/s');
  t.after(async () => {
    const mounted = (await readMountInfo()).map((entry) => entry.mountPoint).filter((p) => p.startsWith(root + '/'));
    for (const mountPoint of mounted.reverse()) await unmount(mountPoint);
    await rm(root, { recursive: true, force: true });
  });
  return root;
}
