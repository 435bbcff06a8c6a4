import type { Command } from 'commander';
import { DEFAULT_ROOT } from '../../config/defaults';
import { lazyAction } from '../lazy-action';

/** `strata apply`: a layer file into an active snapshot of a running server. */
export function registerApply(program: Command): void {
  program
    .command('apply <key> <file>')
    .description('apply a layer (tar, gzip or zstd) from FILE, or from stdin for -, to an active snapshot')
    .option('--root <dir>', "the server's state directory: its overlay snapshots are written without a mount", DEFAULT_ROOT)
    .option('--json', 'machine-readable output')
    .action(lazyAction(() => import('../actions/apply'), 'apply'));
}
