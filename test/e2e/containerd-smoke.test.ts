/**
 * Proves the end-to-end test infrastructure with containerd's own overlayfs
 * snapshotter: a private containerd 1.7, an image built offline with layers
 * from code and from a host directory (gzip and plain), imported and run.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'smol-toml';
import { startContainerd, type Containerd } from '../support/containerd';
import { buildOciImage, busyboxRootfsLayer, type LayerSpec, type OciImageSpec } from '../support/oci-image';

/** A directory with files, a nested dir, a hard link, a symlink and non-root ownership. */
async function makeLayerTwoDir(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'data/keep'), { recursive: true });
  await fs.mkdir(path.join(dir, 'data/old'), { recursive: true });
  await fs.mkdir(path.join(dir, 'etc'), { recursive: true });
  await fs.writeFile(path.join(dir, 'data/keep/a.txt'), 'layer two\n');
  await fs.link(path.join(dir, 'data/keep/a.txt'), path.join(dir, 'data/link'));
  await fs.symlink('keep/a.txt', path.join(dir, 'data/sym'));
  await fs.writeFile(path.join(dir, 'data/old/x.txt'), 'hidden by layer three\n');
  await fs.writeFile(path.join(dir, 'data/owned'), 'owned\n');
  await fs.chown(path.join(dir, 'data/owned'), 1000, 1001);
  await fs.chmod(path.join(dir, 'data/owned'), 0o600);
  await fs.writeFile(path.join(dir, 'etc/removed.txt'), 'deleted by layer three\n');
}

/** Deletes a file with a whiteout and replaces a directory's contents with an opaque marker. */
const layerThree: LayerSpec = {
  compression: 'gzip',
  entries: [
    { type: 'whiteout', path: 'etc/removed.txt' },
    { type: 'dir', path: 'data/old' },
    { type: 'opaque', path: 'data/old' },
    { type: 'file', path: 'data/old/y.txt', content: 'layer three\n' },
    { type: 'file', path: 'data/three.sh', content: 'echo three\n', mode: 0o755 },
  ],
};

/** What the container reports, one key=value per line. */
const probeScript = [
  'echo "passwd=$(head -n1 /etc/passwd)"',
  'echo "a=$(cat /data/keep/a.txt)"',
  'echo "link=$(cat /data/link)"',
  'echo "same_inode=$([ "$(stat -c %i /data/keep/a.txt)" = "$(stat -c %i /data/link)" ] && echo yes || echo no)"',
  'echo "sym=$(readlink /data/sym)"',
  'echo "owned=$(stat -c %u:%g:%a /data/owned)"',
  'echo "removed=$([ -e /etc/removed.txt ] && echo present || echo gone)"',
  'echo "old=$(ls /data/old | tr "\\n" " ")"',
  'echo "y=$(cat /data/old/y.txt)"',
  'echo "three=$(sh /data/three.sh)"',
].join('; ');

const expectedProbe = {
  passwd: 'root:x:0:0:root:/root:/bin/sh',
  a: 'layer two',
  link: 'layer two',
  same_inode: 'yes',
  sym: 'keep/a.txt',
  owned: '1000:1001:600',
  removed: 'gone',
  old: 'y.txt',
  y: 'layer three',
  three: 'three',
};

function parseProbe(stdout: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) result[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return result;
}

async function shimsServing(address: string): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').then((c) => c.split('\0'), () => [] as string[]);
    if (argv[0]?.includes('containerd-shim') && argv.includes(address)) pids.push(Number(pid));
  }
  return pids;
}

async function mountsUnder(dir: string): Promise<number> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo.split('\n').filter((l) => l.split(' ')[4]?.startsWith(`${dir}/`)).length;
}

/** containerd names committed layer snapshots by chain id (OCI image spec, "ChainID"). */
function chainIds(diffIds: string[]): string[] {
  const chain: string[] = [];
  for (const diffId of diffIds) {
    const parent = chain.at(-1);
    chain.push(parent === undefined ? diffId : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`);
  }
  return chain;
}

describe('containerd 1.7 with its built-in overlayfs snapshotter', { timeout: 120_000 }, () => {
  let work: string;
  let containerd: Containerd | undefined;

  before(async () => {
    work = await fs.mkdtemp('/tmp/ctd-smoke-');
    containerd = await startContainerd({ dir: path.join(work, 'c') });
  });

  after(async () => {
    await containerd?.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  test('builds the same image digests twice (deterministic)', async () => {
    const spec = (): OciImageSpec => ({ name: 'strata.test/same:1', layers: [busyboxRootfsLayer({ compression: 'gzip' }), layerThree] });
    const first = await buildOciImage(spec(), path.join(work, 'same-1.tar'));
    const second = await buildOciImage(spec(), path.join(work, 'same-2.tar'));
    assert.equal(first.manifestDigest, second.manifestDigest);
    assert.deepEqual(first.layerDigests, second.layerDigests);
    assert.notEqual(first.layerDigests[1], first.diffIds[1], 'a gzip layer digest differs from its diff id');
  });

  test('rejects a layer path outside the layer root', async () => {
    await assert.rejects(
      buildOciImage({ name: 'strata.test/bad:1', layers: [{ entries: [{ type: 'file', path: '../escape', content: 'x' }] }] }, path.join(work, 'bad.tar')),
      /outside the layer root/,
    );
  });

  test('imports a three-layer image, runs it, and lists its snapshots', async () => {
    assert.ok(containerd);
    const ns = containerd.namespace;
    const layerTwoDir = path.join(work, 'layer2');
    await makeLayerTwoDir(layerTwoDir);

    const name = 'strata.test/layers:1';
    const imageTar = path.join(work, 'layers.tar');
    const image = await buildOciImage(
      { name, layers: [busyboxRootfsLayer({ compression: 'gzip' }), { dir: layerTwoDir }, layerThree] },
      imageTar,
    );
    assert.equal(image.layerDigests[1], image.diffIds[1], 'an uncompressed layer digest is its diff id');

    await containerd.ctrOk(['-n', ns, 'image', 'import', imageTar]);
    const images = await containerd.ctrOk(['-n', ns, 'image', 'ls']);
    const row = images.split('\n').find((l) => l.startsWith(`${name} `));
    assert.ok(row, `image ${name} listed:\n${images}`);
    assert.match(row, new RegExp(image.manifestDigest));

    const id = `smoke-${randomBytes(4).toString('hex')}`;
    const out = await containerd.ctrOk(['-n', ns, 'run', '--rm', '--snapshotter', 'overlayfs', name, id, 'sh', '-c', probeScript]);
    assert.deepEqual(parseProbe(out), expectedProbe);

    const snapshots = await containerd.ctrOk(['-n', ns, 'snapshot', '--snapshotter', 'overlayfs', 'ls']);
    const committed = new Set(
      snapshots
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((cols) => cols.at(-1) === 'Committed')
        .map((cols) => cols[0]),
    );
    for (const chainId of chainIds(image.diffIds)) {
      assert.ok(committed.has(chainId), `committed snapshot ${chainId} in:\n${snapshots}`);
    }
    const containers = await containerd.ctrOk(['-n', ns, 'containers', 'ls', '-q']);
    assert.equal(containers.trim(), '', 'run --rm removed the container');
  });
});

describe('startContainerd configuration', { timeout: 60_000 }, () => {
  let work: string;
  before(async () => {
    work = await fs.mkdtemp('/tmp/ctd-conf-');
  });
  after(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  test('registers proxy snapshot and diff plugins and the differ order', async () => {
    const dir = path.join(work, 'p');
    const containerd = await startContainerd({
      dir,
      proxyPlugins: [
        { name: 'strata', type: 'snapshot', address: path.join(work, 'snap.sock') },
        { name: 'strata-diff', type: 'diff', address: path.join(work, 'diff.sock'), exports: { root: '/x' } },
      ],
      diffDefault: ['strata-diff', 'walking'],
    });
    try {
      const config = parse(await fs.readFile(path.join(dir, 'config.toml'), 'utf8')) as {
        plugins: Record<string, { default?: string[] }>;
      };
      assert.deepEqual(config.plugins['io.containerd.service.v1.diff-service']?.default, ['strata-diff', 'walking']);

      const plugins = await containerd.ctrOk(['plugins', 'ls']);
      const row = (type: string, id: string) =>
        plugins
          .split('\n')
          .map((l) => l.trim())
          .find((l) => l.startsWith(`${type} `) && l.split(/\s+/)[1] === id);
      assert.match(row('io.containerd.snapshotter.v1', 'strata') ?? '', /\bok$/, plugins);
      assert.match(row('io.containerd.differ.v1', 'strata-diff') ?? '', /\bok$/, plugins);
      assert.equal(row('io.containerd.grpc.v1', 'cri'), undefined, 'CRI is disabled');
    } finally {
      await containerd.stop();
    }
    assert.equal(existsSync(dir), false, 'stop() removes the directory');
  });

  test('stop() ends a still-running container, its shim and its mounts', async () => {
    const dir = path.join(work, 'run');
    const containerd = await startContainerd({ dir });
    let shimPids: number[] = [];
    try {
      const imageTar = path.join(work, 'busybox.tar');
      await buildOciImage({ name: 'strata.test/busybox:1', layers: [busyboxRootfsLayer()] }, imageTar);
      await containerd.ctrOk(['image', 'import', imageTar]);
      await containerd.ctrOk(['run', '-d', 'strata.test/busybox:1', 'sleeper', 'sleep', '600']);
      shimPids = await shimsServing(containerd.address);
      assert.equal(shimPids.length, 1, 'one shim runs the detached container');
      assert.ok(await mountsUnder(dir), 'the container rootfs is mounted under the containerd dir');
    } finally {
      await containerd.stop();
    }
    assert.deepEqual(await shimsServing(containerd.address), []);
    assert.equal(await mountsUnder(dir), 0);
    assert.equal(existsSync(dir), false);
  });

  test('a config containerd rejects fails the start with its log, and leaves nothing behind', async () => {
    const dir = path.join(work, 'bad');
    await assert.rejects(
      startContainerd({ dir, extraConfig: '[grpc]\naddress = "/tmp/duplicate-table.sock"\n' }),
      /containerd (exited during start|did not answer)[\s\S]*containerd log/,
    );
    assert.equal(existsSync(dir), false);
  });
});
