import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createOverlayBackend } from '../../../src/backends/overlay';
import type { Backend } from '../../../src/snapshots/backend';
import type { Kind, SnapshotRef } from '../../../src/snapshots/types';
import { tempRoot } from '../../mount/temp-root';

export async function backendIn(t: TestContext): Promise<{ root: string; backend: Backend }> {
  const root = await tempRoot(t);
  const backend = await createOverlayBackend({ root });
  t.after(() => backend.close());
  return { root, backend };
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
