#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerDiff } from './commands/diff';
import { registerServe } from './commands/serve';
import { registerSnapshot } from './commands/snapshot';
import { registerStatus } from './commands/status';
import { printError } from './output';
import { packageVersion } from '../package-root';

/** Each command group lives in one module under commands/ and registers itself here. */
const COMMANDS = [registerServe, registerSnapshot, registerDiff, registerStatus];

function buildProgram(): Command {
  const program = new Command('strata')
    .description('containerd proxy snapshotter and differ')
    .version(packageVersion())
    .option('-a, --address <socket>', 'server socket (serve: where to listen; default /run/strata/strata.sock, or $STRATA_ADDRESS for clients)')
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}

/** Every failure is one line on stderr: the user needs the reason, not our stack. */
function report(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode; // commander has printed it already
  printError(err instanceof Error ? err.message : String(err));
  return 1;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.exitCode = report(err);
  });
