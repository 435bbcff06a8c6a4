import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { NO_DEVICE_MAPPER } from '../support/device-mapper';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const runScript = path.join(repoRoot, 'scripts', 'vm', 'run.sh');

/** How to run one command inside the qemu VM. */
export interface VmCommand {
  /** The VM is killed after this many seconds. */
  timeoutS: number;
  /** Environment for the command inside (run.sh forwards STRATA_* variables). */
  env: Record<string, string>;
  /** Guest memory in MiB (run.sh's default otherwise). */
  memoryMiB?: number;
}

export interface VmRun extends VmCommand {
  /** Compiled test files or directories, relative to the repository root. */
  suites: string[];
}

/** Why the VM tests cannot run here, or undefined when they can. */
export function whyNoVm(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (loop devices and device-mapper inside the VM run as root)';
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) return 'qemu-system-x86_64 is missing: run scripts/vm/install-deps.sh';
  return undefined;
}

/** The counts in the node test runner's summary, from the TAP ("# pass 3") or spec ("ℹ pass 3") reporter. */
function summary(output: string): Record<'tests' | 'pass' | 'fail' | 'skipped' | 'cancelled', number | undefined> {
  const count = (name: string) => {
    const matches = [...output.matchAll(new RegExp(`^(?:#|ℹ) ${name} (\\d+)$`, 'gm'))];
    return matches.length > 0 ? Number(matches[matches.length - 1][1]) : undefined;
  };
  return { tests: count('tests'), pass: count('pass'), fail: count('fail'), skipped: count('skipped'), cancelled: count('cancelled') };
}

/**
 * Runs `command` inside the qemu VM (scripts/vm/run.sh) from the repository
 * root and returns its exit code and output, stdout and stderr interleaved.
 */
export async function runInVm(command: string[], options: VmCommand): Promise<{ exitCode: number | null; output: string }> {
  const env = Object.entries(options.env).map(([name, value]) => `${name}=${value}`);
  const child = spawn(runScript, ['--timeout', String(options.timeoutS), '--', 'env', ...env, ...command], {
    cwd: repoRoot,
    env: options.memoryMiB ? { ...process.env, STRATA_VM_MEMORY: String(options.memoryMiB) } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  // run.sh's own notes (a second boot after a guest lockup) belong in the log even when the run passes.
  for (const note of output.match(/^run\.sh: .*$/gm) ?? []) process.stderr.write(`${note}\n`);
  return { exitCode, output };
}

/**
 * Runs test suites with node's test runner inside the qemu VM and asserts
 * that they all ran and passed: none failed, was cancelled or skipped.
 */
export async function assertSuitesPassInVm(run: VmRun): Promise<void> {
  const { exitCode, output } = await runInVm(['node', '--test', '--test-concurrency=1', ...run.suites], run);
  const counts = summary(output);
  const report = `exit code ${exitCode}, summary ${JSON.stringify(counts)}; output of the run inside the VM:\n${output}`;
  assert.equal(exitCode, 0, report);
  assert.ok(counts.tests !== undefined && counts.pass !== undefined, `no test summary found: ${report}`);
  assert.equal(counts.fail, 0, report);
  assert.equal(counts.cancelled ?? 0, 0, report);
  assert.equal(counts.skipped ?? 0, 0, `tests were skipped inside the VM, which has device-mapper: ${report}`);
  // A skipped describe() is not in the summary's count; its line gives the reason.
  assert.ok(!output.includes(`# SKIP ${NO_DEVICE_MAPPER}`), `suites were skipped for want of device-mapper inside the VM, which has it: ${report}`);
  assert.ok(counts.pass > 0, `no test ran inside the VM: ${report}`);
}
