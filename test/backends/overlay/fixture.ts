import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createOverlayBackend, type ObjectStoreSetting, type OverlayBackend } from '../../../src/backends/overlay';
import { MetaStore } from '../../../src/store/metastore';
import type { Backend } from '../../../src/snapshots/backend';
import type { Kind, SnapshotRef } from '../../../src/snapshots/types';
import { tempRoot } from '../../mount/temp-root';

/** An overlay backend over a fresh root; plain mode unless `objectStore` says otherwise. */
export async function backendIn(
  t: TestContext,
  objectStore: ObjectStoreSetting = 'off',
): Promise<{ root: string; backend: OverlayBackend; store: MetaStore }> {
  const root = await tempRoot(t);
  const store = MetaStore.open(path.join(root, 'metadata'));
  const backend = await createOverlayBackend({ root, objectStore, store });
  t.after(async () => {
    await backend.close();
    await store.close();
  });
  return { root, backend, store };
}

export function ref(id: string, kind: Kind, parentIds: string[] = []): SnapshotRef {
  return { id, kind, parentIds, labels: {} };
}

export const fsDir = (root: string, id: string) => path.join(root, 'snapshots', id, 'fs');

/** Creates committed-like storage under `id` (stage + publish) holding `files`. */
export async function layer(
  backend: Backend,
  root: string,
  id: string,
  parentIds: string[],
  files: Record<string, string> = {},
): Promise<void> {
  const staged = await backend.stage({ kind: 'active', parentIds, labels: {} });
  backend.publish(staged, id);
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(fsDir(root, id), name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

/** Ids "n".."1": the parents of a snapshot on top of layers 1..n, nearest first. */
export const chainIds = (n: number) => Array.from({ length: n }, (_, i) => String(n - i));
