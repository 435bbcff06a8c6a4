import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const runScript = path.join(repoRoot, 'scripts', 'vm', 'run.sh');
/** The VM's own timeout; this test waits a little longer so run.sh can report it. */
const VM_TIMEOUT_S = 540;
/** The thin backend's own tests, and the backend-neutral suites run against it (STRATA_TEST_BACKEND=thin). */
const SUITES = [
  'dist/test/backends/thin',
  'dist/test/snapshots/conformance.test.js',
  'dist/test/cli/status.test.js',
  'dist/test/server/operations.test.js',
];

function whyNot(): string | undefined {
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

test('the thin backend and the shared snapshot suite pass on thin inside a VM with device-mapper', { skip: whyNot(), timeout: (VM_TIMEOUT_S + 60) * 1000 }, async () => {
  const child = spawn(runScript, ['--timeout', String(VM_TIMEOUT_S), '--', 'env', 'STRATA_TEST_BACKEND=thin', 'node', '--test', ...SUITES], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));

  const counts = summary(output);
  const report = `exit code ${exitCode}, summary ${JSON.stringify(counts)}; output of the run inside the VM:\n${output}`;
  assert.equal(exitCode, 0, report);
  assert.ok(counts.tests !== undefined && counts.pass !== undefined, `no test summary found: ${report}`);
  assert.equal(counts.fail, 0, report);
  assert.equal(counts.cancelled ?? 0, 0, report);
  assert.equal(counts.skipped ?? 0, 0, `tests were skipped inside the VM, which has device-mapper: ${report}`);
  assert.ok(counts.pass > 0, `no test ran inside the VM: ${report}`);
});
