import type { Command } from 'commander';
import { DEFAULT_ADDRESS, DEFAULT_CONFIG_FILE, DEFAULT_ROOT } from '../../config/defaults';
import { lazyAction } from '../lazy-action';

/** `strata serve`: runs the snapshotter and differ until SIGTERM or SIGINT. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the snapshotter and differ gRPC server')
    .option('-a, --address <socket>', `unix socket to listen on (default ${DEFAULT_ADDRESS})`)
    .option('--root <dir>', `state directory (default ${DEFAULT_ROOT})`)
    .option('--backend <name>', 'overlay or thin (default overlay)')
    .option('--config <file>', `TOML configuration file (default ${DEFAULT_CONFIG_FILE} when it exists)`)
    .option('--log-level <level>', 'trace, debug, info, warn or error (default info)')
    .option('--metrics-address <host:port>', 'serve Prometheus metrics here')
    .option('--pid-file <file>', 'write the server\'s pid here while it serves')
    .action(lazyAction(() => import('../actions/serve'), 'runServe'));
}
