/**
 * scripts/install.sh for real, into a temporary STRATA_PREFIX (no systemd on
 * the test machines, so its PID-file path): a self-contained copy that does
 * not refer to the checkout, the runtime packages from the one list, a
 * server started with a PID file, and a second run that restarts it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runtimePackages } from '../../src/exec/tools';
import { PACKAGE_ROOT } from '../../src/package-root';

const run = promisify(execFile);
const INSTALL = path.join(PACKAGE_ROOT, 'scripts', 'install.sh');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(alive(pid), false, `pid ${pid} still running`);
}

describe('scripts/install.sh', () => {
  let prefix: string;
  let lib: string;
  let bin: string;
  let address: string;
  let pidFile: string;
  const install = async () => (await run('bash', [INSTALL], { env: { ...process.env, STRATA_PREFIX: prefix }, maxBuffer: 1 << 24 })).stdout;
  const serverPid = async () => Number(await fs.readFile(pidFile, 'utf8'));
  const status = async () =>
    JSON.parse((await run(bin, ['--address', address, 'status', '--json'])).stdout) as { pid: number; root: string; version: string };

  before(async () => {
    prefix = await fs.mkdtemp('/tmp/strata-install-');
    lib = path.join(prefix, 'usr/local/lib/strata');
    bin = path.join(prefix, 'usr/local/bin/strata');
    address = path.join(prefix, 'run/strata/strata.sock');
    pidFile = path.join(prefix, 'run/strata/strata.pid');
  });
  after(async () => {
    // Never leave a server behind.
    const pid = await serverPid().catch(() => undefined);
    if (pid !== undefined && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      await waitGone(pid);
    }
    await fs.rm(prefix, { recursive: true, force: true });
  });

  test('installs a self-contained copy, its runtime packages, and starts it with a PID file', async () => {
    const out = await install();
    assert.match(out, new RegExp(`^install.sh: runtime packages: ${runtimePackages().join(' ')}$`, 'm'));

    // The copy runs from its own directory, not the checkout, with production dependencies only.
    const wrapper = await fs.readFile(bin, 'utf8');
    assert.ok(wrapper.includes(path.join(lib, 'dist/src/cli/launch.js')), wrapper);
    assert.ok(!wrapper.includes(PACKAGE_ROOT), wrapper);
    assert.ok(existsSync(path.join(lib, 'node_modules/@grpc/grpc-js')));
    assert.ok(existsSync(path.join(lib, 'node_modules/@napi-rs/xattr')));
    assert.equal(existsSync(path.join(lib, 'node_modules/typescript')), false, 'no dev dependencies');
    assert.deepEqual((await fs.readdir(path.dirname(lib))).sort(), ['strata'], 'no staging or old copy left');

    // The unit's Documentation= names a file that the install put there.
    const unit = await fs.readFile(path.join(lib, 'strata.service'), 'utf8');
    const doc = /^Documentation=file:(\S+)$/m.exec(unit);
    assert.ok(doc, unit);
    assert.ok(doc[1].startsWith('/usr/local/lib/strata/'), doc[1]);
    assert.ok(existsSync(path.join(lib, path.relative('/usr/local/lib/strata', doc[1]))), doc[1]);

    const pid = await serverPid();
    const reported = await status();
    assert.equal(reported.pid, pid);
    assert.equal(reported.root, path.join(prefix, 'var/lib/strata'));
  });

  test('a second run restarts the running server on the new copy', async () => {
    const before = await serverPid();
    const out = await install();
    assert.match(out, new RegExp(`stopping the running server \\(pid ${before}\\)`));
    assert.match(out, /\(restarted\)$/m);
    await waitGone(before);
    const after = await serverPid();
    assert.notEqual(after, before);
    assert.equal((await status()).pid, after);
  });
});
