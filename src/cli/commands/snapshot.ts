import { Command } from 'commander';
import type { SnapshotsClient } from '../../client/snapshots-client';
import type { Labels, SnapshotInfo } from '../../snapshots/types';
import { withClient } from '../client';
import { mountCommands } from '../format/mounts';
import { describeSnapshot, KIND_TITLES, labelLines, snapshotJson } from '../format/snapshot';
import { humanBytes } from '../../bytes';
import { formatTable } from '../format/table';
import { buildTree, drawTree } from '../format/tree';
import { collectLabel, parseLabel } from '../labels';
import type { SnapshotKeys } from '../snapshot-keys';
import { printError, printJson, printLines } from '../output';

interface JsonFlag {
  json?: boolean;
}

interface LabelFlags extends JsonFlag {
  label?: Labels;
}

/** `strata snapshot ...`: the snapshots API from the command line, in the spirit of `ctr snapshot`. */
export function registerSnapshot(program: Command): void {
  const snapshot = program.command('snapshot').alias('snapshots').description('manage snapshots on a running server');

  const sub = (nameAndArgs: string, description: string) =>
    snapshot.command(nameAndArgs).description(description).option('--json', 'machine-readable output');

  sub('prepare <key> [parent]', 'create an active snapshot')
    .option('--label <key=value>', 'label to set (repeatable)', collectLabel)
    .option('--target <dir>', 'print the mount commands for this directory')
    .action((key: string, parent: string | undefined, opts: LabelFlags & { target?: string }, cmd: Command) =>
      withClient(cmd, async (client, keys) => printMounts(await client.prepare(key, await optional(keys, parent), opts.label), opts)),
    );

  sub('view <key> [parent]', 'create a read-only view')
    .option('--label <key=value>', 'label to set (repeatable)', collectLabel)
    .option('--target <dir>', 'print the mount commands for this directory')
    .action((key: string, parent: string | undefined, opts: LabelFlags & { target?: string }, cmd: Command) =>
      withClient(cmd, async (client, keys) => printMounts(await client.view(key, await optional(keys, parent), opts.label), opts)),
    );

  sub('commit <name> <key>', 'commit an active snapshot under a new name')
    .option('--label <key=value>', 'label to set (repeatable)', collectLabel)
    .action((name: string, key: string, opts: LabelFlags, cmd: Command) =>
      withClient(cmd, async (client, keys) => {
        await client.commit(name, await keys.resolve(key), opts.label);
        if (opts.json) printJson(snapshotJson(await client.stat(name)));
      }),
    );

  sub('mounts <target> <key>', 'print the mount commands of a snapshot').action(
    (target: string, key: string, opts: JsonFlag, cmd: Command) =>
      withClient(cmd, async (client, keys) => printMounts(await client.mounts(await keys.resolve(key)), { ...opts, target })),
  );

  sub('ls [filters...]', "list snapshots: all, or those matching any of containerd's filters (kind==active, name~=REGEX, ...)").action(
    (filters: string[], opts: JsonFlag, cmd: Command) =>
      withClient(cmd, async (_client, keys) => {
        const all = await keys.list(filters);
        if (opts.json) return printJson(all.map(snapshotJson));
        printLines([formatTable(['KEY', 'PARENT', 'KIND'], all.map((s) => [s.name, s.parent, KIND_TITLES[s.kind]]))]);
      }),
  );

  sub('info <key>', 'show one snapshot').action((key: string, opts: JsonFlag, cmd: Command) =>
    withClient(cmd, async (client, keys) => {
      const info = await client.stat(await keys.resolve(key));
      if (opts.json) printJson(snapshotJson(info));
      else printLines([describeSnapshot(info)]);
    }),
  );

  sub('rm <keys...>', 'remove snapshots').action((keys: string[], opts: JsonFlag, cmd: Command) =>
    withClient(cmd, async (client, snapshotKeys) => {
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
    }),
  );

  sub('usage [key]', 'disk usage of one snapshot, or of all').action(
    (key: string | undefined, opts: JsonFlag, cmd: Command) =>
      withClient(cmd, async (client, snapshotKeys) => {
        const keys = key === undefined ? (await snapshotKeys.list()).map((s) => s.name) : [await snapshotKeys.resolve(key)];
        const usages = [];
        for (const name of keys) usages.push({ key: name, ...(await client.usage(name)) });
        if (opts.json) return printJson(usages);
        const rows = usages.map((u) => [u.key, humanBytes(u.size), String(u.inodes)]);
        printLines([formatTable(['KEY', 'SIZE', 'INODES'], rows)]);
      }),
  );

  sub('label <key> [labels...]', 'set labels (key=value) or remove them (key=), then print them').action(
    (key: string, args: string[], opts: JsonFlag, cmd: Command) =>
      withClient(cmd, async (client, keys) => {
        const info = await setLabels(client, await keys.resolve(key), args.map(parseLabel));
        if (opts.json) printJson(snapshotJson(info));
        else printLines(labelLines(info.labels));
      }),
  );

  sub('tree', 'show snapshots as a parent/child tree').action((opts: JsonFlag, cmd: Command) =>
    withClient(cmd, async (_client, keys) => {
      const roots = buildTree(await keys.list());
      if (opts.json) printJson(roots);
      else printLines(drawTree(roots));
    }),
  );
}

/** An optional key argument (a parent), resolved when given. */
async function optional(keys: SnapshotKeys, key: string | undefined): Promise<string | undefined> {
  return key === undefined ? undefined : keys.resolve(key);
}

function printMounts(mounts: Parameters<typeof mountCommands>[1], opts: JsonFlag & { target?: string }): void {
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
