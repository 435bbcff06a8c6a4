import type { Command } from 'commander';
import { lazyAction } from '../lazy-action';

/** `strata diff` and `strata changes`: what a snapshot changed, as a layer or as a list. */
export function registerDiff(program: Command): void {
  const action = (name: keyof typeof import('../actions/diff')) => lazyAction(() => import('../actions/diff'), name);
  program
    .command('diff <key> [parent]')
    .description('write the changes of a snapshot against its parent (or PARENT) as a layer tar: to FILE (gzip when it ends in .gz), else to stdout')
    .option('-o, --output <file>', 'layer file to write (default: stdout, which must not be a terminal)')
    .option('--json', 'machine-readable output')
    .action(action('diff'));

  program
    .command('changes <key> [parent]')
    .description('list what a snapshot changed against its parent (or PARENT): A added, C changed, D deleted')
    .option('--json', 'machine-readable output')
    .action(action('changes'));
}
