import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE } from '../../config/defaults';
import { loadConfig } from '../../config/load';
import type { StrataConfigInput } from '../../config/schema';
import { createLogger } from '../../log/logger';
import { serve } from '../../server/serve';

interface ServeFlags {
  address?: string;
  root?: string;
  backend?: string;
  config?: string;
  logLevel?: string;
  metricsAddress?: string;
  pidFile?: string;
}

/** Serves with the configuration of the flags, the file and the defaults, until SIGTERM or SIGINT. */
export async function runServe(_opts: ServeFlags, command: Command): Promise<void> {
  const flags = command.optsWithGlobals<ServeFlags>();
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
