import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { cacheName } from '../../src/cli/launch';
import { PACKAGE_ROOT } from '../../src/package-root';

const run = promisify(execFile);

/**
 * A package of its own (package.json, the launcher, the bundle, node_modules
 * linked), so its code cache starts empty and no other test shares it.
 */
async function packageCopy(t: TestContext): Promise<{ launcher: string; cacheDir: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-launch-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const dist = path.join(PACKAGE_ROOT, 'dist');
  await fs.copyFile(path.join(PACKAGE_ROOT, 'package.json'), path.join(dir, 'package.json'));
  await fs.symlink(path.join(PACKAGE_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  await fs.mkdir(path.join(dir, 'dist', 'src', 'cli'), { recursive: true });
  await fs.mkdir(path.join(dir, 'dist', 'bundle'));
  await fs.copyFile(path.join(dist, 'src', 'cli', 'launch.js'), path.join(dir, 'dist', 'src', 'cli', 'launch.js'));
  await fs.copyFile(path.join(dist, 'bundle', 'strata.js'), path.join(dir, 'dist', 'bundle', 'strata.js'));
  return { launcher: path.join(dir, 'dist', 'src', 'cli', 'launch.js'), cacheDir: path.join(dir, 'dist', 'bundle', 'code-cache') };
}

const version = async (launcher: string) => (await run(process.execPath, [launcher, '--version'])).stdout;

async function fingerprint(file: string): Promise<string> {
  const stat = await fs.stat(file);
  return `${stat.ino}:${stat.mtimeMs}:${(stat.mode & 0o777).toString(8)}`;
}

describe('the launcher', () => {
  it('names a cache after the command, the Node.js version and the architecture', () => {
    assert.equal(cacheName(['serve', '--root', '/var/lib/strata'], 'v20.1.0', 'x64'), 'serve-v20.1.0-x64.bin');
    assert.equal(cacheName(['--address', '/run/s.sock', 'snapshot', 'ls'], 'v20.1.0', 'x64'), 'snapshot-v20.1.0-x64.bin');
    assert.equal(cacheName(['--version'], 'v22.0.0', 'arm64'), 'none-v22.0.0-arm64.bin');
    assert.equal(cacheName(['serve', '--help'], 'v20.1.0', 'x64'), 'help-v20.1.0-x64.bin');
    assert.equal(cacheName(['snapshot', 'ls', '-h'], 'v20.1.0', 'x64'), 'help-v20.1.0-x64.bin');
    assert.equal(cacheName(['help', 'serve'], 'v20.1.0', 'x64'), 'help-v20.1.0-x64.bin');
  });

  it("writes no cache when a run fails, so a failed start does not stand for its command's later runs", async (t) => {
    const { launcher, cacheDir } = await packageCopy(t);
    const missingServer = ['--address', path.join(cacheDir, 'none.sock'), 'snapshot', 'ls'];
    await assert.rejects(run(process.execPath, [launcher, ...missingServer]), (err: { code?: number }) => err.code === 1);
    await assert.rejects(fs.stat(path.join(cacheDir, cacheName(missingServer))), { code: 'ENOENT' });
    await run(process.execPath, [launcher, 'snapshot', '--help']);
    assert.deepEqual(await fs.readdir(cacheDir), [cacheName(['--help'])]);
  });

  it('writes a missing cache at exit and then runs from it without writing it again', async (t) => {
    const { launcher, cacheDir } = await packageCopy(t);
    const expected = `${JSON.parse(await fs.readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version}\n`;
    assert.equal(await version(launcher), expected);
    const cache = path.join(cacheDir, cacheName(['--version']));
    const written = await fingerprint(cache);
    assert.ok((await fs.stat(cache)).size > 0);
    assert.equal(written.split(':')[2], '644');
    // V8 accepted it: a rejected cache would have been written afresh.
    assert.equal(await version(launcher), expected);
    assert.equal(await fingerprint(cache), written);
  });

  it('replaces a cache V8 rejects and ignores one that others could have written', async (t) => {
    const { launcher, cacheDir } = await packageCopy(t);
    await version(launcher);
    const cache = path.join(cacheDir, cacheName(['--version']));
    const first = await fingerprint(cache);

    // Another build of the bundle: V8 finds the cache made for other source and rejects it.
    await fs.appendFile(path.join(cacheDir, '..', 'strata.js'), '\n// rebuilt\n');
    await version(launcher);
    const rewritten = await fingerprint(cache);
    assert.notEqual(rewritten, first);
    await version(launcher);
    assert.equal(await fingerprint(cache), rewritten, 'the new cache is accepted');

    // Group- and world-writable: not trusted, so not even read; the run replaces it with its own.
    await fs.chmod(cache, 0o666);
    await version(launcher);
    const replaced = await fingerprint(cache);
    assert.notEqual(replaced.split(':')[0], rewritten.split(':')[0]);
    assert.equal(replaced.split(':')[2], '644');
  });

  it('runs for a user who can neither read nor write the cache, and leaves it as it was', async (t) => {
    const { launcher, cacheDir } = await packageCopy(t);
    await version(launcher);
    const cache = path.join(cacheDir, cacheName(['--version']));
    const written = await fingerprint(cache);
    await fs.chmod(path.dirname(path.dirname(path.dirname(cacheDir))), 0o755);
    await fs.chmod(cacheDir, 0o700);
    const nobody = 65534;
    const { stdout } = await run(process.execPath, [launcher, '--version'], { uid: nobody, gid: nobody, cwd: '/' });
    assert.equal(stdout, await version(launcher));
    assert.equal(await fingerprint(cache), written);
    assert.deepEqual(await fs.readdir(cacheDir), [path.basename(cache)]);
  });
});
