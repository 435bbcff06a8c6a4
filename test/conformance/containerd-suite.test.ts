/**
 * containerd 1.7.24's own snapshotter conformance suite
 * (snapshots/testsuite.SnapshotterSuite), driven through containerd's Go
 * proxy client exactly as containerd calls a proxy plugin: overlay on the
 * host, thin inside the VM. The harness lives beside the checkout
 * (../shared/harness, or $STRATA_HARNESS_DIR); scripts/install-test-deps.sh
 * builds it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { STRATA_BIN } from '../support/strata-process';
import { runInVm, whyNoVm } from '../vm/suites-in-vm';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const harness = path.resolve(process.env.STRATA_HARNESS_DIR ?? path.join(repoRoot, '..', 'shared', 'harness'));
const runSuite = path.join(harness, 'run-suite.sh');
const strata = STRATA_BIN;
/** The cases of containerd 1.7.24's SnapshotterSuite. */
const SUITE_CASES = 21;

/**
 * Every case starts a server of its own, all at once. Under the VM's software
 * emulation 21 Node.js servers each setting up a thin pool need longer than
 * the harness's default of 20 s to start answering.
 */
const VM_START_TIMEOUT = '300s';
const VM_TIMEOUT_S = 1200;
/** Room in the guest's RAM-backed /tmp for 21 pools at once. */
const VM_MEMORY_MIB = 6144;

function serveCommand(backend: string, ...extra: string[]): string {
  return ['exec', 'node', strata, 'serve', '--backend', backend, ...extra, '--root', '{root}', '--address', '{socket}'].join(' ');
}

/**
 * What go test printed for each failed case (its lines under the case's
 * === RUN/CONT/NAME markers): the tail of a long run may not reach back to it.
 */
function failedCasesOutput(output: string): string {
  const failed = new Set([...output.matchAll(/--- FAIL: (\S+\/\S+)/g)].map((match) => match[1]));
  const lines: string[] = [];
  let current = '';
  for (const line of output.split('\n')) {
    const marker = /^\s*=== (?:RUN|CONT|NAME|PAUSE)\s+(\S+)/.exec(line);
    if (marker) current = marker[1];
    else if (failed.has(current)) lines.push(`${current}: ${line.trim()}`);
  }
  return lines.join('\n');
}

/** The harness's last line, "conformance: N passed, M failed". */
function assertAllPassed(exitCode: number | null, output: string): void {
  const verdicts = [...output.matchAll(/^conformance: (\d+) passed, (\d+) failed$/gm)];
  const report = `exit code ${exitCode}; failed cases:\n${failedCasesOutput(output)}\nsuite output:\n${output.slice(-20_000)}`;
  assert.ok(verdicts.length > 0, `the harness printed no verdict: ${report}`);
  const [, passed, failed] = verdicts[verdicts.length - 1];
  assert.deepEqual({ passed: Number(passed), failed: Number(failed) }, { passed: SUITE_CASES, failed: 0 }, report);
  assert.equal(exitCode, 0, report);
}

async function runOnHost(command: string, env: Record<string, string>): Promise<{ exitCode: number | null; output: string }> {
  const child = spawn(runSuite, [command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { exitCode, output };
}

describe("containerd's snapshotter conformance suite through containerd's proxy client", () => {
  test('the harness is built', () => {
    assert.ok(existsSync(runSuite), `no harness at ${harness}: set STRATA_HARNESS_DIR or put shared/harness beside the checkout`);
  });

  // "overlayfs": the suite then skips renaming a lower-layer directory, which
  // needs the kernel's redirect_dir (off here), as for containerd's own overlayfs.
  test('overlay with plain layer dirs passes every case', { skip: !existsSync(runSuite), timeout: 600_000 }, async () => {
    const config = path.join(repoRoot, 'test', 'conformance', 'overlay-plain.toml');
    const { exitCode, output } = await runOnHost(serveCommand('overlay', '--config', config), { SNAPSUITE_NAME: 'overlayfs' });
    assertAllPassed(exitCode, output);
  });

  // Object-store mounts carry redirect_dir=on, so the suite runs as for any
  // proxy snapshotter, renaming a lower-layer directory included.
  test('overlay with the object store passes every case', { skip: !existsSync(runSuite), timeout: 600_000 }, async () => {
    const config = path.join(repoRoot, 'test', 'conformance', 'overlay-objects.toml');
    const { exitCode, output } = await runOnHost(serveCommand('overlay', '--config', config), { SNAPSUITE_NAME: 'proxy' });
    assertAllPassed(exitCode, output);
  });

  test('thin passes every case inside the VM', { skip: whyNoVm() ?? !existsSync(runSuite), timeout: (VM_TIMEOUT_S + 60) * 1000 }, async () => {
    const config = path.join(repoRoot, 'test', 'conformance', 'thin-suite.toml');
    const { exitCode, output } = await runInVm([runSuite, serveCommand('thin', '--config', config)], {
      timeoutS: VM_TIMEOUT_S,
      memoryMiB: VM_MEMORY_MIB,
      env: { SNAPSUITE_NAME: 'proxy', SNAPSHOTTER_START_TIMEOUT: VM_START_TIMEOUT },
    });
    assertAllPassed(exitCode, output);
  });
});
