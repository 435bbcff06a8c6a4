import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../config/load';
import { DEFAULT_ADDRESS, type StrataConfigInput } from '../../config/schema';
import { createLogger } from '../../log/logger';

interface ServeFlags {
  address?: string;
  root?: string;
  backend?: string;
  config?: string;
  logLevel?: string;
  metricsAddress?: string;
  pidFile?: string;
}

/** `strata serve`: runs the snapshotter and differ until SIGTERM or SIGINT. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the snapshotter and differ gRPC server')
    .option('-a, --address <socket>', `unix socket to listen on (default ${DEFAULT_ADDRESS})`)
    .option('--root <dir>', 'state directory (default /var/lib/strata)')
    .option('--backend <name>', 'overlay or thin (default overlay)')
    .option('--config <file>', `TOML configuration file (default ${DEFAULT_CONFIG_FILE} when it exists)`)
    .option('--log-level <level>', 'trace, debug, info, warn or error (default info)')
    .option('--metrics-address <host:port>', 'serve Prometheus metrics here')
    .option('--pid-file <file>', 'write the server\'s pid here while it serves')
    .action((_opts: ServeFlags, cmd: Command) => runServe(cmd.optsWithGlobals<ServeFlags>()));
}

async function runServe(flags: ServeFlags): Promise<void> {
  const file = flags.config ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  // The values are checked by the config schema, so a bad flag reads like a bad key.
  const overrides = {
    root: flags.root && path.resolve(flags.root),
    address: flags.address && path.resolve(flags.address),
    backend: flags.backend,
    log_level: flags.logLevel,
    metrics_address: flags.metricsAddress,
    pid_file: flags.pidFile && path.resolve(flags.pidFile),
  } as Partial<StrataConfigInput>;
  const config = await loadConfig({ file, overrides });
  const logger = createLogger(config.log_level);
  // Loaded here, not at the top, so client commands do not pay for the server's modules.
  const { serve } = await import('../../server/serve');
  // Handlers go in before the socket exists, so a signal that arrives while the
  // server is starting still gets an orderly shutdown.
  let stop!: (received: NodeJS.Signals) => void;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    stop = (received) => {
      // A second signal meets Node's default handler and ends a close that hangs.
      process.off('SIGTERM', stop).off('SIGINT', stop);
      resolve(received);
    };
    process.on('SIGTERM', stop).on('SIGINT', stop);
  });
  let server;
  try {
    server = await serve(config, logger);
  } catch (err) {
    // serve() has undone what it created; nothing must keep this process up.
    process.off('SIGTERM', stop).off('SIGINT', stop);
    throw err;
  }
  logger.info({ signal: await signal }, 'shutting down');
  await server.close();
  process.exit(0);
}
