/** What the `strata snapshot ...` subcommands do (commands/snapshot.ts registers them). */
import type { Command } from 'commander';
import type { SnapshotsClient } from '../../client/snapshots-client';
import type { Labels, SnapshotInfo } from '../../snapshots/types';
import { withClient } from '../client';
import { mountCommands } from '../format/mounts';
import { describeSnapshot, KIND_TITLES, labelLines, snapshotJson } from '../format/snapshot';
import { humanBytes } from '../../bytes';
import { formatTable } from '../format/table';
import { buildTree, drawTree } from '../format/tree';
import { parseLabel } from '../labels';
import type { SnapshotKeys } from '../snapshot-keys';
import { printError, printJson, printLines } from '../output';

interface JsonFlag {
  json?: boolean;
}

interface LabelFlags extends JsonFlag {
  label?: Labels;
}

interface TargetFlag {
  target?: string;
}

/** `snapshot prepare KEY [PARENT]` */
export async function prepare(key: string, parent: string | undefined, opts: LabelFlags & TargetFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, keys) => printMounts(await client.prepare(key, await optional(keys, parent), opts.label), opts));
}

/** `snapshot view KEY [PARENT]` */
export async function view(key: string, parent: string | undefined, opts: LabelFlags & TargetFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, keys) => printMounts(await client.view(key, await optional(keys, parent), opts.label), opts));
}

/** `snapshot commit NAME KEY` */
export async function commit(name: string, key: string, opts: LabelFlags, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, keys) => {
    await client.commit(name, await keys.resolve(key), opts.label);
    if (opts.json) printJson(snapshotJson(await client.stat(name)));
  });
}

/** `snapshot mounts TARGET KEY` */
export async function mounts(target: string, key: string, opts: JsonFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, keys) => printMounts(await client.mounts(await keys.resolve(key)), { ...opts, target }));
}

/** `snapshot ls [FILTERS...]` */
export async function ls(filters: string[], opts: JsonFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (_client, keys) => {
    const all = await keys.list(filters);
    if (opts.json) return printJson(all.map(snapshotJson));
    printLines([formatTable(['KEY', 'PARENT', 'KIND'], all.map((s) => [s.name, s.parent, KIND_TITLES[s.kind]]))]);
  });
}

/** `snapshot info KEY` */
export async function info(key: string, opts: JsonFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, keys) => {
    const found = await client.stat(await keys.resolve(key));
    if (opts.json) printJson(snapshotJson(found));
    else printLines([describeSnapshot(found)]);
  });
}

/** `snapshot rm KEYS...` */
export async function rm(keys: string[], opts: JsonFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, snapshotKeys) => {
    const removed: string[] = [];
    for (const key of keys) {
      // One failure should not keep the other keys from being removed.
      try {
        const name = await snapshotKeys.resolve(key);
        await client.remove(name);
        removed.push(name);
      } catch (err) {
        printError(`rm ${JSON.stringify(key)}: ${((await snapshotKeys.explain(err)) as Error).message}`);
      }
    }
    if (opts.json) printJson({ removed });
    if (removed.length < keys.length) process.exitCode = 1;
  });
}

/** `snapshot usage [KEY]` */
export async function usage(key: string | undefined, opts: JsonFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, snapshotKeys) => {
    const keys = key === undefined ? (await snapshotKeys.list()).map((s) => s.name) : [await snapshotKeys.resolve(key)];
    const usages = [];
    for (const name of keys) usages.push({ key: name, ...(await client.usage(name)) });
    if (opts.json) return printJson(usages);
    const rows = usages.map((u) => [u.key, humanBytes(u.size), String(u.inodes)]);
    printLines([formatTable(['KEY', 'SIZE', 'INODES'], rows)]);
  });
}

/** `snapshot label KEY [LABELS...]` */
export async function label(key: string, args: string[], opts: JsonFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (client, keys) => {
    const updated = await setLabels(client, await keys.resolve(key), args.map(parseLabel));
    if (opts.json) printJson(snapshotJson(updated));
    else printLines(labelLines(updated.labels));
  });
}

/** `snapshot tree` */
export async function tree(opts: JsonFlag, cmd: Command): Promise<void> {
  await withClient(cmd, async (_client, keys) => {
    const roots = buildTree(await keys.list());
    if (opts.json) printJson(roots);
    else printLines(drawTree(roots));
  });
}

/** An optional key argument (a parent), resolved when given. */
async function optional(keys: SnapshotKeys, key: string | undefined): Promise<string | undefined> {
  return key === undefined ? undefined : keys.resolve(key);
}

function printMounts(mounts: Parameters<typeof mountCommands>[1], opts: JsonFlag & TargetFlag): void {
  if (opts.json) printJson(mounts);
  else if (opts.target !== undefined) printLines(mountCommands(opts.target, mounts));
}

/** Only the named labels change: each goes into the field mask as `labels.KEY`; an empty value removes it. */
async function setLabels(client: SnapshotsClient, key: string, changes: [string, string][]): Promise<SnapshotInfo> {
  if (changes.length === 0) return client.stat(key);
  const labels: Labels = {};
  for (const [name, value] of changes) if (value !== '') labels[name] = value;
  return client.update({ name: key, labels }, changes.map(([name]) => `labels.${name}`));
}
