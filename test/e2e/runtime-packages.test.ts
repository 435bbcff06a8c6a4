/**
 * The Debian packages install.sh installs (runtimePackages) are all the
 * server needs: strata runs with a PATH holding only those packages'
 * programs and serves containerd an image import whose layers have a
 * whiteout (made by tar) and an opaque directory (an xattr, once made by
 * setfattr from the 'attr' package, which is not on that PATH).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runtimePackages, TOOL_PACKAGES } from '../../src/exec/tools';
import { requiredTools } from '../../src/server/serve';
import { base, top } from '../diff/fixture-layers';
import { buildOciImage } from '../support/oci-image';
import { startStrataWithContainerd, type StrataWithContainerd } from '../support/strata-with-containerd';

const IMAGE = 'strata.test/runtime-packages:1';

/** A directory of links to every program (bin/ and sbin/) the given Debian packages ship. */
async function binDirOf(packages: string[], dir: string): Promise<string> {
  await fs.mkdir(dir);
  const files = execFileSync('dpkg', ['-L', ...packages], { encoding: 'utf8' }).split('\n');
  for (const file of files.filter((f) => /\/s?bin\/[^/]+$/.test(f))) {
    const link = path.join(dir, path.basename(file));
    if (!existsSync(link)) await fs.symlink(file, link);
  }
  return dir;
}

describe('the packages install.sh installs are enough for the server', () => {
  let dir: string;
  let bin: string;
  let pair: StrataWithContainerd | undefined;
  const ns = `rp${randomBytes(4).toString('hex')}`;

  before(async () => {
    dir = await fs.mkdtemp('/tmp/rp-');
    bin = await binDirOf(runtimePackages(), path.join(dir, 'bin'));
  });
  after(async () => {
    await pair?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('the list holds the package of every program strata can run, and not attr', () => {
    const packages = new Set(runtimePackages());
    for (const [tool, pkg] of Object.entries(TOOL_PACKAGES)) {
      if (tool !== 'systemd-notify') assert.ok(packages.has(pkg), `${tool}: ${pkg}`);
    }
    assert.ok(!packages.has('attr'));
    assert.equal(existsSync(path.join(bin, 'setfattr')), false);
  });

  test('serving overlay and thin needs no program outside those packages', () => {
    const thin = { pool_name: undefined, discard_blocks: true, fs_type: 'xfs' } as const;
    const settings = (backend: 'overlay' | 'thin', fsType: 'ext4' | 'xfs') => ({
      backend, thin: { ...thin, fs_type: fsType },
    }) as unknown as Parameters<typeof requiredTools>[0];
    for (const tools of [requiredTools(settings('overlay', 'ext4')), requiredTools(settings('thin', 'ext4')), requiredTools(settings('thin', 'xfs'))]) {
      for (const tool of tools) assert.ok(existsSync(path.join(bin, tool)), `${tool} is not in ${runtimePackages().join(' ')}`);
    }
  });

  test('with only those programs on PATH, strata applies an image with a whiteout and an opaque directory', async () => {
    const image = path.join(dir, 'image.tar');
    await buildOciImage({ name: IMAGE, layers: [base, top] }, image);
    pair = await startStrataWithContainerd(dir, ns, { strataEnv: { ...process.env, PATH: bin } });
    await pair.containerd.ctrOk(['-n', ns, 'image', 'import', '--snapshotter', 'strata', image]);
    assert.ok((await pair.diffCalls('Apply')) >= 2, 'strata applied both layers');
    assert.equal(pair.strata.stderr().includes('"level":50'), false, pair.strata.stderr());

    const target = path.join(dir, 'mnt');
    await fs.mkdir(target);
    await pair.containerd.ctrOk(['-n', ns, 'image', 'mount', '--snapshotter', 'strata', IMAGE, target]);
    try {
      assert.deepEqual(await fs.readdir(path.join(target, 'data', 'old')), ['y.txt'], 'the opaque directory hides the lower x.txt');
      assert.equal(existsSync(path.join(target, 'etc', 'removed.txt')), false, 'the whiteout removes the file');
    } finally {
      await pair.containerd.ctr(['-n', ns, 'image', 'unmount', '--rm', target]);
    }
  });
});
