import type { Command } from 'commander';
import { lazyAction } from '../lazy-action';

/** `strata status`: the server's backend and storage, like `docker info`'s storage driver section. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the backend, snapshot counts and storage status of a running server')
    .option('--json', 'machine-readable output')
    .action(lazyAction(() => import('../actions/status'), 'showStatus'));
}
