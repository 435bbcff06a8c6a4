import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { spawnStrata, type StrataProcess } from '../support/strata-process';
import { DiffClient } from './diff-client';

export interface StrataDiffer {
  strata: StrataProcess;
  snapshots: SnapshotsClient;
  differ: DiffClient;
  /** Closes the clients and stops the server with SIGTERM. */
  stop(): Promise<void>;
}

/** `strata serve` as a process (root and socket under `dir`) whose differ reads and writes the content store at `containerdAddress`. */
export async function spawnStrataDiffer(dir: string, containerdAddress: string, namespace = 'default'): Promise<StrataDiffer> {
  const config = path.join(dir, 'strata.toml');
  await fs.writeFile(config, [
    `root = ${JSON.stringify(path.join(dir, 'r'))}`,
    'log_level = "warn"',
    '[diff]',
    `containerd_address = ${JSON.stringify(containerdAddress)}`,
    `namespace = ${JSON.stringify(namespace)}`,
  ].join('\n'));
  const address = path.join(dir, 's.sock');
  const strata = await spawnStrata(['--config', config], address);
  const snapshots = new SnapshotsClient(address);
  const differ = new DiffClient(address);
  return {
    strata,
    snapshots,
    differ,
    async stop() {
      snapshots.close();
      differ.close();
      strata.child.kill('SIGTERM');
      await strata.exited;
    },
  };
}
