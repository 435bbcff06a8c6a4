import { Command, CommanderError } from 'commander';
import { registerApply } from './commands/apply';
import { registerDiff } from './commands/diff';
import { registerServe } from './commands/serve';
import { registerSnapshot } from './commands/snapshot';
import { registerStatus } from './commands/status';
import { printError, printJson } from './output';
import { packageVersion } from '../package-root';

/** Each command group registers itself from one module under commands/; its action, under actions/, loads when it runs. */
const COMMANDS = [registerServe, registerSnapshot, registerDiff, registerApply, registerStatus];

function buildProgram(): Command {
  const program = new Command('strata')
    .description('containerd proxy snapshotter and differ')
    .version(packageVersion())
    .option('-a, --address <socket>', 'server socket (serve: where to listen; default /run/strata/strata.sock, or $STRATA_ADDRESS for clients)')
    .option('-n, --namespace <ns>', "keys are containerd's keys in this namespace (strata keeps them as NS/<n>/KEY)")
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

/** `strata --version --json`: commander's version flag prints plain text and takes no other option. */
function isVersionJson(args: string[]): boolean {
  return args.length === 2 && args.includes('--json') && (args.includes('--version') || args.includes('-V'));
}

if (isVersionJson(process.argv.slice(2))) {
  printJson({ version: packageVersion() });
} else {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.exitCode = report(err);
    });
}
