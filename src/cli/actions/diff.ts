/**
 * What `strata diff` and `strata changes` do: the differ on a snapshot of a
 * running server, run in this process (as root, on the server's host) so no
 * content store is involved.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { humanBytes } from '../../bytes';
import { writeLayer, type Change } from '../../changeset';
import type { SnapshotsClient } from '../../client/snapshots-client';
import { DigestTap, FOR_LAYER, withChanges } from '../../diff';
import type { Mount } from '../../snapshots/types';
import { withClient } from '../client';
import { LayerProgress } from '../layer-progress';
import { printJson, printLines } from '../output';
import type { SnapshotKeys } from '../snapshot-keys';

interface JsonFlag {
  json?: boolean;
}

/**
 * Runs `use` with the mounts of `key` and of its base (`parent`, else its
 * own parent; none for a snapshot without one), as containerd's
 * rootfs.CreateDiff gets them: views made here are removed afterwards.
 */
async function withSnapshotPair<T>(
  client: SnapshotsClient,
  keys: SnapshotKeys,
  key: string,
  parent: string | undefined,
  use: (left: Mount[], right: Mount[]) => Promise<T>,
): Promise<T> {
  const info = await client.stat(await keys.resolve(key));
  const base = parent === undefined ? info.parent : await keys.resolve(parent);
  const views: string[] = [];
  const view = async (of: string) => {
    const name = `strata-cli-${process.pid}-${randomBytes(4).toString('hex')}`;
    const mounts = await client.view(name, of);
    views.push(name);
    return mounts;
  };
  try {
    const left = base === '' ? [] : await view(base);
    const right = info.kind === 'committed' ? await view(info.name) : await client.mounts(info.name);
    return await use(left, right);
  } finally {
    for (const name of views) await client.remove(name).catch(() => undefined);
  }
}

/** docker diff's letters: A added, C changed, D deleted. */
const LETTERS: Partial<Record<Change['kind'], string>> = { add: 'A', modify: 'C', delete: 'D', opaque: 'C' };

/** `strata diff KEY [PARENT]`: the changes as a layer tar, to a file or stdout. */
export async function diff(key: string, parent: string | undefined, opts: JsonFlag & { output?: string }, cmd: Command): Promise<void> {
  await withClient(cmd, (client, keys) => {
    const file = opts.output;
    if (file === undefined && process.stdout.isTTY) throw new Error('refusing to write a layer to a terminal: give -o FILE or redirect stdout');
    return withSnapshotPair(client, keys, key, parent, (left, right) =>
      withChanges(left, right, async (changes) => {
        const progress = new LayerProgress(`diff ${key}`);
        const tap = new DigestTap();
        const layer = writeLayer(progress.countEntries(changes), { compression: file?.endsWith('.gz') ? 'gzip' : 'none' });
        try {
          await pipeline(tap.tap(progress.countBytes(layer)), file === undefined ? process.stdout : createWriteStream(file));
        } finally {
          progress.stop();
        }
        const written = { file: file ?? '-', digest: tap.digest(), size: tap.size };
        // With the layer on stdout, what was written is told on stderr.
        const report = file === undefined ? process.stderr : process.stdout;
        if (opts.json) printJson(written, report);
        else printLines([`${written.digest} ${humanBytes(written.size)} ${written.file}`], report);
      }, FOR_LAYER),
    );
  });
}

/** `strata changes KEY [PARENT]`: one line per changed path. */
export async function changes(key: string, parent: string | undefined, opts: JsonFlag, cmd: Command): Promise<void> {
  await withClient(cmd, (client, keys) =>
    withSnapshotPair(client, keys, key, parent, (left, right) =>
      withChanges(left, right, async (changed) => {
        const listed: Array<{ kind: string; path: string }> = [];
        let last: string | undefined;
        for await (const change of changed) {
          const letter = LETTERS[change.kind];
          // An opaque directory comes right after its own modification; one line per path.
          if (letter === undefined || change.path === last) continue;
          last = change.path;
          if (opts.json) listed.push({ kind: letter, path: `/${change.path}` });
          else printLines([`${letter} /${change.path}`]);
        }
        if (opts.json) printJson(listed);
      }),
    ),
  );
}
