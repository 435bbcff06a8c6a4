import { createReadStream, fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { humanBytes } from '../../bytes';
import type { SnapshotsClient } from '../../client/snapshots-client';
import { applyToMounts } from '../../diff';
import type { Mount } from '../../snapshots/types';
import { withClient } from '../client';
import { LayerProgress } from '../layer-progress';
import { printJson, printLines } from '../output';

interface ApplyFlags {
  json?: boolean;
  root: string;
}

interface LayerInput {
  stream: Readable;
  /** Known for a file (stdin too, when it is redirected from one). */
  size?: number;
}

/** The layer to read: FILE, or stdin for `-` (a pipe or a redirected file, never a terminal). */
async function layerInput(file: string): Promise<LayerInput> {
  if (file === '-') {
    if (process.stdin.isTTY) throw new Error('refusing to read a layer from a terminal: pipe it in or give a FILE');
    const info = fstatSync(0);
    return { stream: process.stdin, size: info.isFile() ? info.size : undefined };
  }
  const info = await stat(file);
  if (!info.isFile()) throw new Error(`${file} is not a file`);
  return { stream: createReadStream(file), size: info.size };
}

/** The mounts of `key`, which must be an active snapshot: a layer goes into nothing else. */
async function activeMounts(client: SnapshotsClient, key: string): Promise<Mount[]> {
  const info = await client.stat(key);
  if (info.kind === 'committed') {
    throw new Error(`snapshot ${JSON.stringify(key)} is committed: only active snapshots can be applied into (strata snapshot prepare NEW ${key} makes one on top of it)`);
  }
  if (info.kind === 'view') throw new Error(`snapshot ${JSON.stringify(key)} is a read-only view: only active snapshots can be applied into`);
  return client.mounts(key);
}

/**
 * A failed apply that had begun writing entries leaves them in the
 * snapshot; the layer's remaining entries (its whiteouts too) are missing.
 */
function partlyApplied(err: unknown, key: string, entries: number): unknown {
  if (entries === 0) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new Error(
    `${reason}; snapshot ${JSON.stringify(key)} now holds part of the layer (it stopped in entry ${entries}): ` +
      `remove it (strata snapshot rm ${key}) and prepare it again before applying anew`,
  );
}

/** `strata apply KEY FILE`: a layer into an active snapshot, written by this process (as root, on the server's host). */
export async function apply(key: string, file: string, opts: ApplyFlags, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, keys) => {
    const name = await keys.resolve(key);
    const mounts = await activeMounts(client, name);
    const input = await layerInput(file);
    const entriesStarted = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const progress = new LayerProgress(`apply ${key}`, { totalBytes: input.size, entries: () => Atomics.load(entriesStarted, 0) });
    let result;
    try {
      result = await applyToMounts(progress.countBytes(input.stream), mounts, { strataRoot: opts.root, entriesStarted });
    } catch (err) {
      throw partlyApplied(err, name, Atomics.load(entriesStarted, 0));
    } finally {
      progress.stop();
    }
    const applied = { digest: result.digest, size: result.size, entries: result.entries };
    if (opts.json) printJson(applied);
    else printLines([`${applied.digest} ${humanBytes(applied.size)} ${applied.entries} entries`]);
  });
}
