import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fetchStatus } from '../../../src/client/status-client';

/**
 * How many snapshots' storage strata holds, read from the storage itself
 * rather than from the metadata: directories under `<root>/snapshots` on
 * overlay; on thin, the devices the backend tracks, the base device aside
 * (a removal deferred to Cleanup still counts: its device still holds blocks).
 */
export async function storedSnapshotCount(root: string, address: string): Promise<number> {
  const status = await fetchStatus(address);
  if (status.backend === 'overlay') return (await fs.readdir(path.join(root, 'snapshots'))).length;
  const { devicesByState } = status.backendStatus as { devicesByState: Record<string, number> };
  return Object.values(devicesByState).reduce((sum, count) => sum + count, 0) - 1;
}
