import type { SnapshotsClient } from '../../../src/client/snapshots-client';
import type { SnapshotInfo } from '../../../src/snapshots/types';

/**
 * containerd hands a proxy snapshotter its keys rewritten as
 * `<namespace>/<counter>/<name>`; true when `key` is the one for `name`.
 */
export function isKeyFor(key: string, namespace: string, name: string): boolean {
  const prefix = `${namespace}/`;
  if (!key.startsWith(prefix)) return false;
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf('/');
  return slash > 0 && /^[0-9]+$/.test(rest.slice(0, slash)) && rest.slice(slash + 1) === name;
}

/** Every snapshot strata holds, through its own socket. */
export async function strataSnapshots(client: SnapshotsClient): Promise<SnapshotInfo[]> {
  const all: SnapshotInfo[] = [];
  for await (const info of client.list()) all.push(info);
  return all;
}

/** The snapshot strata holds for containerd's `name` in `namespace`, if any. */
export async function strataSnapshotOf(client: SnapshotsClient, namespace: string, name: string): Promise<SnapshotInfo | undefined> {
  return (await strataSnapshots(client)).find((info) => isKeyFor(info.name, namespace, name));
}
