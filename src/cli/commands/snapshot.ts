import type { Command } from 'commander';
import { collectLabel } from '../labels';
import { lazyAction } from '../lazy-action';

/** `strata snapshot ...`: the snapshots API from the command line, in the spirit of `ctr snapshot`. */
export function registerSnapshot(program: Command): void {
  const snapshot = program.command('snapshot').alias('snapshots').description('manage snapshots on a running server');
  const action = (name: keyof typeof import('../actions/snapshot')) => lazyAction(() => import('../actions/snapshot'), name);

  const sub = (nameAndArgs: string, description: string) =>
    snapshot.command(nameAndArgs).description(description).option('--json', 'machine-readable output');

  sub('prepare <key> [parent]', 'create an active snapshot')
    .option('--label <key=value>', 'label to set (repeatable)', collectLabel)
    .option('--target <dir>', 'print the mount commands for this directory')
    .action(action('prepare'));

  sub('view <key> [parent]', 'create a read-only view')
    .option('--label <key=value>', 'label to set (repeatable)', collectLabel)
    .option('--target <dir>', 'print the mount commands for this directory')
    .action(action('view'));

  sub('commit <name> <key>', 'commit an active snapshot under a new name')
    .option('--label <key=value>', 'label to set (repeatable)', collectLabel)
    .action(action('commit'));

  sub('mounts <target> <key>', 'print the mount commands of a snapshot').action(action('mounts'));
  sub('ls [filters...]', "list snapshots: all, or those matching any of containerd's filters (kind==active, name~=REGEX, ...)").action(action('ls'));
  sub('info <key>', 'show one snapshot').action(action('info'));
  sub('rm <keys...>', 'remove snapshots').action(action('rm'));
  sub('usage [key]', 'disk usage of one snapshot, or of all').action(action('usage'));
  sub('label <key> [labels...]', 'set labels (key=value) or remove them (key=), then print them').action(action('label'));
  sub('tree', 'show snapshots as a parent/child tree').action(action('tree'));
}
