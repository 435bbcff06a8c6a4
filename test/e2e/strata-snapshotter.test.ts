/**
 * strata as a proxy snapshotter of a real containerd 1.7: every
 * `ctr snapshot` subcommand, image import and containers on strata's mounts
 * (layers applied by containerd's walking differ), garbage collection down to
 * strata's storage, and strata restarted under a running containerd.
 *
 * containerd rewrites keys to `<namespace>/<counter>/<name>` before they reach
 * strata, so the strata side is checked through strata's own socket by
 * matching that shape (support/strata-keys.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import type { SnapshotInfo } from '../../src/snapshots/types';
import { startContainerd, type Containerd } from '../support/containerd';
import { buildOciImage, busyboxRootfsLayer, type BuiltOciImage, type LayerEntry, type LayerSpec } from '../support/oci-image';
import { spawnStrata, type StrataProcess } from '../support/strata-process';
import { codeOf, TEST_BACKEND, testBackendConfig } from '../support/strata-server';
import { chainIds } from './support/chain-ids';
import { ctrToFile } from './support/ctr-to-file';
import { layerEntries } from './support/layer-entries';
import { storedSnapshotCount } from './support/stored-snapshots';
import { isKeyFor, strataSnapshotOf, strataSnapshots } from './support/strata-keys';
import { waitFor } from './support/wait-for';
import { scaledMs } from '../support/time-scale';

const execFileAsync = promisify(execFile);

const LAYERED = 'strata.test/layers:1';
const UNPACKED = 'strata.test/unpacked:1';

/** Layer two: files, a hard link, a symlink, non-root ownership, and things layer three deletes. */
const layerTwo: LayerSpec = {
  entries: [
    { type: 'dir', path: 'data' },
    { type: 'dir', path: 'data/keep' },
    { type: 'file', path: 'data/keep/a.txt', content: 'layer two\n' },
    { type: 'hardlink', path: 'data/link', target: 'data/keep/a.txt' },
    { type: 'symlink', path: 'data/sym', target: 'keep/a.txt' },
    { type: 'file', path: 'data/owned', content: 'owned\n', uid: 1000, gid: 1001, mode: 0o600 },
    { type: 'dir', path: 'data/old' },
    { type: 'file', path: 'data/old/x.txt', content: 'hidden by layer three\n' },
    { type: 'dir', path: 'data/gone-dir' },
    { type: 'file', path: 'data/gone-dir/f.txt', content: 'deleted with its directory\n' },
    { type: 'file', path: 'etc/removed.txt', content: 'deleted by layer three\n' },
  ],
};

/** Layer three: whiteouts of a file and a directory, an opaque directory, a new hard-linked pair. */
const layerThree: LayerSpec = {
  compression: 'gzip',
  entries: [
    { type: 'whiteout', path: 'etc/removed.txt' },
    { type: 'whiteout', path: 'data/gone-dir' },
    { type: 'dir', path: 'data/old' },
    { type: 'opaque', path: 'data/old' },
    { type: 'file', path: 'data/old/y.txt', content: 'layer three\n' },
    { type: 'file', path: 'data/three.txt', content: 'layer three\n' },
    { type: 'file', path: 'data/h1', content: 'pair\n' },
    { type: 'hardlink', path: 'data/h2', target: 'data/h1' },
  ],
};

/** What a container of the layered image reports, one key=value per line. */
const probeScript = [
  'echo "busybox=$([ -x /bin/busybox ] && echo yes || echo no)"',
  'echo "passwd=$(head -n1 /etc/passwd)"',
  'echo "a=$(cat /data/keep/a.txt)"',
  'echo "link=$(cat /data/link)"',
  'echo "link_inode=$([ "$(stat -c %i /data/keep/a.txt)" = "$(stat -c %i /data/link)" ] && echo same || echo different)"',
  'echo "link_count=$(stat -c %h /data/link)"',
  'echo "pair_inode=$([ "$(stat -c %i /data/h1)" = "$(stat -c %i /data/h2)" ] && echo same || echo different)"',
  'echo "sym=$(readlink /data/sym)"',
  'echo "owned=$(stat -c %u:%g:%a /data/owned)"',
  'echo "removed=$([ -e /etc/removed.txt ] && echo present || echo gone)"',
  'echo "gone_dir=$([ -e /data/gone-dir ] && echo present || echo gone)"',
  'echo "old=$(ls -A /data/old | tr "\\n" " ")"',
  'echo "three=$(cat /data/three.txt)"',
  'echo "written=$(echo out > /tmp/out && cat /tmp/out)"',
].join('; ');

const expectedProbe = {
  busybox: 'yes',
  passwd: 'root:x:0:0:root:/root:/bin/sh',
  a: 'layer two',
  link: 'layer two',
  link_inode: 'same',
  link_count: '2',
  pair_inode: 'same',
  sym: 'keep/a.txt',
  owned: '1000:1001:600',
  removed: 'gone',
  gone_dir: 'gone',
  old: 'y.txt',
  three: 'layer three',
  written: 'out',
};

/** Every path of the container's root file system with type, mode, owner, links, size and a content hash. */
const listingScript = `find / -xdev | sort | while read -r p; do
  if [ -L "$p" ]; then echo "$p link $(stat -c '%u:%g' "$p") $(readlink "$p")";
  elif [ -f "$p" ]; then echo "$p file $(stat -c '%a %u:%g %h %s' "$p") $(sha256sum < "$p" | cut -c1-16)";
  elif [ -d "$p" ]; then echo "$p dir $(stat -c '%a %u:%g' "$p")";
  else echo "$p other $(stat -c '%F' "$p")"; fi
done`;

function parseProbe(stdout: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) result[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return result;
}

interface CtrSnapshotRow {
  key: string;
  parent: string;
  kind: string;
}

/** `ctr snapshot ls` rows; the parent column is blank for roots. */
function parseSnapshotList(stdout: string): CtrSnapshotRow[] {
  return stdout
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 2)
    .map((cols) => (cols.length >= 3 ? { key: cols[0]!, parent: cols[1]!, kind: cols[2]! } : { key: cols[0]!, parent: '', kind: cols[1]! }));
}

/** A busybox root file system made unique by a marker file, so its chain ids are shared with no other image. */
function markedBusyboxLayer(marker: string): LayerSpec {
  const busybox = busyboxRootfsLayer();
  if (!('entries' in busybox) || !Array.isArray(busybox.entries)) throw new Error('busyboxRootfsLayer no longer lists its entries');
  const entries: LayerEntry[] = [...busybox.entries, { type: 'file', path: 'etc/marker', content: `${marker}\n` }];
  return { entries, compression: 'gzip' };
}

describe('strata as a containerd 1.7 proxy snapshotter', { timeout: scaledMs(150_000) }, () => {
  let work: string;
  let strataRoot: string;
  let strataSocket: string;
  let strataConfig: string;
  let strata: StrataProcess | undefined;
  let containerd: Containerd;
  let client: SnapshotsClient | undefined;
  let ns: string;
  let layered: BuiltOciImage;
  let unpacked: BuiltOciImage;

  const startStrata = async () => {
    strata = await spawnStrata(['--root', strataRoot, '--config', strataConfig], strataSocket);
  };

  /** Sends `signal` and resolves with the exit code or signal; SIGKILLs a server that hangs. */
  const stopStrata = async (signal: NodeJS.Signals) => {
    const running = strata;
    if (!running) return undefined;
    strata = undefined;
    running.child.kill(signal);
    const timer = setTimeout(() => running.child.kill('SIGKILL'), scaledMs(15_000));
    const status = await running.exited;
    clearTimeout(timer);
    return status;
  };

  const ctrSnapshot = (args: string[]) => containerd.ctrOk(['snapshot', '--snapshotter', 'strata', ...args]);

  /** strata's snapshot for containerd's `name`; fails the test when strata has none. */
  const strataSnapshot = async (name: string): Promise<SnapshotInfo> => {
    assert.ok(client);
    const info = await strataSnapshotOf(client, ns, name);
    assert.ok(info, `strata holds a snapshot for ${name}:\n${JSON.stringify(await strataSnapshots(client), bigintJson, 1)}`);
    return info;
  };

  /** Mounts what `ctr snapshot mounts` prints for `name`, runs `use`, and unmounts even when it fails. */
  const withSnapshotMounted = async <T>(name: string, use: (dir: string, commands: string) => Promise<T>): Promise<T> => {
    const target = path.join(work, 'mnt');
    await fs.mkdir(target, { recursive: true });
    const commands = await ctrSnapshot(['mounts', target, name]);
    await execFileAsync('sh', ['-c', `set -e\n${commands}`]);
    try {
      return await use(target, commands);
    } finally {
      await execFileAsync('umount', [target]);
    }
  };

  /**
   * Runs a garbage collection pass now and waits for it (deleting a lease
   * with --sync does that). Waiting for the scheduled pass is not enough:
   * containerd 1.7's scheduler drops a deletion that arrives while a pass is
   * running, and the next pass then waits for the next deletion.
   */
  const collectGarbage = async () => {
    const lease = `gc-${randomBytes(4).toString('hex')}`;
    await containerd.ctrOk(['leases', 'create', '--id', lease]);
    await containerd.ctrOk(['leases', 'rm', '--sync', lease]);
  };

  /** Waits until strata stores exactly the snapshots it lists (Cleanup ran). */
  const storageMatchesMetadata = () =>
    waitFor('strata storage to hold exactly its listed snapshots (Cleanup ran)', async () => {
      assert.ok(client);
      const stored = await storedSnapshotCount(strataRoot, strataSocket);
      const listed = await strataSnapshots(client);
      return stored === listed.length ? { stored, listed } : undefined;
    });

  before(async () => {
    work = await fs.mkdtemp('/tmp/se2e-');
    strataRoot = path.join(work, 'root');
    strataSocket = path.join(work, 's.sock');
    strataConfig = path.join(work, 'strata.toml');
    await fs.writeFile(strataConfig, testBackendConfig());
    await startStrata();
    client = new SnapshotsClient(strataSocket);
    containerd = await startContainerd({
      dir: path.join(work, 'c'),
      proxyPlugins: [{ name: 'strata', type: 'snapshot', address: strataSocket, exports: { root: strataRoot } }],
    });
    ns = containerd.namespace;
    layered = await buildOciImage(
      { name: LAYERED, layers: [busyboxRootfsLayer({ compression: 'gzip' }), layerTwo, layerThree] },
      path.join(work, 'layered.tar'),
    );
    unpacked = await buildOciImage(
      { name: UNPACKED, layers: [markedBusyboxLayer(randomBytes(8).toString('hex')), { entries: [{ type: 'file', path: 'u.txt', content: 'u\n' }] }] },
      path.join(work, 'unpacked.tar'),
    );
  });

  after(async () => {
    client?.close();
    try {
      // containerd first: its containers run on strata's mounts.
      await containerd?.stop();
    } finally {
      try {
        await stopStrata('SIGTERM');
      } finally {
        if (work) await fs.rm(work, { recursive: true, force: true });
      }
    }
  });

  describe('ctr snapshot subcommands', () => {
    test('prepare, mounts and commit: a committed snapshot strata stores under the rewritten key', async () => {
      await ctrSnapshot(['prepare', 'base-a']);
      const active = await strataSnapshot('base-a');
      assert.equal(active.kind, 'active');
      assert.equal(active.parent, '');

      await withSnapshotMounted('base-a', async (dir) => {
        await fs.writeFile(path.join(dir, 'keep.txt'), 'base\n');
        await fs.writeFile(path.join(dir, 'gone.txt'), 'removed in work\n');
        await fs.mkdir(path.join(dir, 'dir'));
        await fs.writeFile(path.join(dir, 'dir/nested.txt'), 'nested\n');
      });

      await ctrSnapshot(['commit', 'base', 'base-a']);
      const base = await strataSnapshot('base');
      assert.equal(base.kind, 'committed');
      assert.equal(await strataSnapshotOf(client!, ns, 'base-a'), undefined, 'the active key is gone after commit');
    });

    test('prepare with a parent: a mount over the parent whose writes land in strata storage', async () => {
      const target = path.join(work, 'mnt');
      const printed = await ctrSnapshot(['prepare', '--target', target, 'work', 'base']);
      const active = await strataSnapshot('work');
      assert.equal(active.kind, 'active');
      assert.ok(isKeyFor(active.parent, ns, 'base'), `parent ${active.parent} is base's key`);

      await withSnapshotMounted('work', async (dir, commands) => {
        assert.equal(commands, printed, 'prepare --target prints the same mount commands as mounts');
        if (TEST_BACKEND === 'thin') assert.match(commands, /^mount -t ext4 \/dev\/mapper\/\S+ /m, 'the snapshot is a thin device');
        else assert.match(commands, new RegExp(`upperdir=${strataRoot}/`), 'the upper dir lives in strata root');
        assert.equal(await fs.readFile(path.join(dir, 'keep.txt'), 'utf8'), 'base\n');
        assert.equal(await fs.readFile(path.join(dir, 'dir/nested.txt'), 'utf8'), 'nested\n');
        await fs.writeFile(path.join(dir, 'new.txt'), 'work\n');
        await fs.rm(path.join(dir, 'gone.txt'));
        await fs.writeFile(path.join(dir, 'big.bin'), randomBytes(64 * 1024));
      });
      // A second mount sees the first one's writes: they were stored, not kept in the mount.
      await withSnapshotMounted('work', async (dir) => {
        assert.equal(await fs.readFile(path.join(dir, 'new.txt'), 'utf8'), 'work\n');
        assert.deepEqual((await fs.readdir(dir)).sort(), ['big.bin', 'dir', 'keep.txt', 'new.txt']);
      });
    });

    test('view: a read-only mount of the parent', async () => {
      await ctrSnapshot(['view', 'v1', 'base']);
      const view = await strataSnapshot('v1');
      assert.equal(view.kind, 'view');
      assert.ok(isKeyFor(view.parent, ns, 'base'));
      await withSnapshotMounted('v1', async (dir) => {
        assert.equal(await fs.readFile(path.join(dir, 'keep.txt'), 'utf8'), 'base\n');
        assert.equal(await fs.readFile(path.join(dir, 'gone.txt'), 'utf8'), 'removed in work\n');
        await assert.rejects(fs.writeFile(path.join(dir, 'x'), 'x'), { code: 'EROFS' });
      });
    });

    test('ls, tree and info: containerd reports what strata stores', async () => {
      const rows = parseSnapshotList(await ctrSnapshot(['ls']));
      assert.deepEqual(
        rows.filter((r) => ['base', 'work', 'v1'].includes(r.key)).sort((a, b) => a.key.localeCompare(b.key)),
        [
          { key: 'base', parent: '', kind: 'Committed' },
          { key: 'v1', parent: 'base', kind: 'View' },
          { key: 'work', parent: 'base', kind: 'Active' },
        ],
      );

      const tree = (await ctrSnapshot(['tree'])).split('\n').map((l) => l.trimEnd());
      const baseLine = tree.indexOf(' base');
      assert.ok(baseLine >= 0, `tree has base as a root:\n${tree.join('\n')}`);
      assert.ok(tree.includes('  \\_ work') && tree.includes('  \\_ v1'), `tree has work and v1 under base:\n${tree.join('\n')}`);

      const info = JSON.parse(await ctrSnapshot(['info', 'work'])) as { Kind: string; Name: string; Parent: string };
      assert.deepEqual({ Kind: info.Kind, Name: info.Name, Parent: info.Parent }, { Kind: 'Active', Name: 'work', Parent: 'base' });
    });

    test('usage: containerd reports strata Usage of the active snapshot', async () => {
      const out = await ctrSnapshot(['usage', '-b', 'work']);
      const row = out.split('\n').find((l) => l.startsWith('work '));
      assert.ok(row, out);
      const [, size, inodes] = row.trim().split(/\s+/);
      const fromStrata = await client!.usage((await strataSnapshot('work')).name);
      assert.deepEqual({ size: Number(size), inodes: Number(inodes) }, fromStrata);
      assert.ok(fromStrata.size >= 64 * 1024, `usage counts the 64 KiB written (got ${fromStrata.size})`);
      // Thin Usage comes from the device's mapped blocks, without an inode count, as in containerd's devmapper.
      if (TEST_BACKEND === 'overlay') assert.ok(fromStrata.inodes >= 2, `usage counts the new files (got ${fromStrata.inodes})`);
    });

    test('label on a committed snapshot: only containerd.io/snapshot/ labels reach strata', async () => {
      await ctrSnapshot(['label', 'base', 'containerd.io/snapshot/strata.test=yes', 'plain=1']);
      const labels = (await strataSnapshot('base')).labels;
      assert.equal(labels['containerd.io/snapshot/strata.test'], 'yes');
      assert.equal(labels['plain'], undefined, 'containerd keeps other labels to itself');
      const info = JSON.parse(await ctrSnapshot(['info', 'base'])) as { Labels: Record<string, string> };
      assert.equal(info.Labels['plain'], '1');
      assert.equal(info.Labels['containerd.io/snapshot/strata.test'], 'yes');
    });

    // containerd's metadata snapshotter calls Update with an Info holding only
    // name and labels (Kind is KindUnknown), and the proxy's KindToProto turns
    // an unknown kind into COMMITTED: strata receives kind COMMITTED for every
    // label change, whatever the snapshot's kind. containerd's own snapshotters
    // ignore kind and parent in Update.
    test('label on an active snapshot and a view reaches strata', async () => {
      for (const name of ['work', 'v1']) {
        const result = await containerd.ctr(['snapshot', '--snapshotter', 'strata', 'label', name, 'containerd.io/snapshot/strata.test=yes']);
        assert.equal(result.code, 0, `ctr snapshot label ${name}: ${result.stderr}`);
        assert.equal((await strataSnapshot(name)).labels['containerd.io/snapshot/strata.test'], 'yes');
      }
    });

    test('diff: the walking differ compares the active snapshot with its parent on strata mounts', async () => {
      const blob = path.join(work, 'work-diff.tar.gz');
      await ctrToFile(containerd, ['snapshot', '--snapshotter', 'strata', 'diff', 'work'], blob);
      const names = (await layerEntries(blob)).map((e) => e.name.replace(/^\.?\//, ''));
      assert.ok(names.includes('new.txt'), `diff has the new file: ${names.join(', ')}`);
      assert.ok(names.includes('big.bin'), `diff has the big file: ${names.join(', ')}`);
      assert.ok(names.includes('.wh.gone.txt'), `diff has a whiteout for the deleted file: ${names.join(', ')}`);
      assert.ok(!names.includes('keep.txt') && !names.includes('dir/nested.txt'), `diff leaves unchanged files out: ${names.join(', ')}`);
    });

    test('rm: containerd GC removes the snapshot from strata, then Cleanup reclaims its storage', async () => {
      const key = (await strataSnapshot('work')).name;
      await ctrSnapshot(['rm', 'work']);
      assert.ok(!parseSnapshotList(await ctrSnapshot(['ls'])).some((r) => r.key === 'work'), 'containerd no longer lists work');
      await collectGarbage();
      await waitFor('containerd GC to remove work from strata', async () =>
        (await strataSnapshotOf(client!, ns, 'work')) === undefined ? true : undefined,
      );
      assert.equal(await codeOf(client!.stat(key)), 'NotFound');
      await storageMatchesMetadata();
    });

    test('unpack: ctr snapshot unpack applies an imported image onto strata', async () => {
      await containerd.ctrOk(['image', 'import', '--no-unpack', path.join(work, 'unpacked.tar')]);
      // unpack reads only its own --snapshotter flag, not the one of `ctr snapshot`.
      const out = await ctrSnapshot(['unpack', '--snapshotter', 'strata', unpacked.manifestDigest]);
      assert.match(out, /done/);
      const chain = chainIds(unpacked.diffIds);
      for (const [i, chainId] of chain.entries()) {
        const info = await strataSnapshot(chainId);
        assert.equal(info.kind, 'committed');
        if (i === 0) assert.equal(info.parent, '');
        else assert.ok(isKeyFor(info.parent, ns, chain[i - 1]!), `${chainId} has parent ${chain[i - 1]}, got ${info.parent}`);
      }
      const out2 = await containerd.ctrOk(['run', '--rm', '--snapshotter', 'strata', UNPACKED, `u-${randomBytes(3).toString('hex')}`, 'cat', '/u.txt', '/etc/marker']);
      assert.match(out2, /^u\n[0-9a-f]{16}\n$/);
    });
  });

  describe('images and containers', () => {
    test('import unpacks every layer onto strata and a container sees the merged layers', async () => {
      await containerd.ctrOk(['image', 'import', '--snapshotter', 'strata', path.join(work, 'layered.tar')]);
      for (const chainId of chainIds(layered.diffIds)) {
        assert.equal((await strataSnapshot(chainId)).kind, 'committed');
      }
      const id = `probe-${randomBytes(3).toString('hex')}`;
      const out = await containerd.ctrOk(['run', '--rm', '--snapshotter', 'strata', LAYERED, id, 'sh', '-c', probeScript]);
      assert.deepEqual(parseProbe(out), expectedProbe);
    });

    test('the root file system strata gives equals the one containerd overlayfs gives', async () => {
      const listing = (snapshotter: string) =>
        containerd.ctrOk(['run', '--rm', '--snapshotter', snapshotter, LAYERED, `ls-${snapshotter}-${randomBytes(3).toString('hex')}`, 'sh', '-c', listingScript]);
      const onStrata = await listing('strata');
      const onOverlayfs = await listing('overlayfs');
      assert.ok(onStrata.includes('/data/keep/a.txt file 644 0:0 2 10 '), `listing has the hard-linked file:\n${onStrata}`);
      assert.ok(!onStrata.includes('/etc/removed.txt') && !onStrata.includes('/data/old/x.txt'), onStrata);
      assert.equal(onStrata, onOverlayfs);
    });

    test('image removal: containerd GC removes the image snapshots from strata and Cleanup reclaims them', async () => {
      const chain = chainIds(unpacked.diffIds);
      for (const chainId of chain) await strataSnapshot(chainId);
      await containerd.ctrOk(['image', 'rm', '--sync', UNPACKED]);
      await waitFor('containerd GC to remove the image snapshots from strata', async () => {
        const left = (await strataSnapshots(client!)).filter((s) => chain.some((c) => isKeyFor(s.name, ns, c)));
        return left.length === 0 ? true : undefined;
      });
      await storageMatchesMetadata();
      // The other image is untouched.
      for (const chainId of chainIds(layered.diffIds)) await strataSnapshot(chainId);
    });
  });

  describe('strata restarted under a running containerd', () => {
    const exec = (container: string, script: string) =>
      containerd.ctrOk(['task', 'exec', '--exec-id', `x${randomBytes(4).toString('hex')}`, container, 'sh', '-c', script]);

    /** Every parent containerd and strata name is a snapshot they also list. */
    const assertNoMissingParents = async () => {
      const rows = parseSnapshotList(await ctrSnapshot(['ls']));
      const keys = new Set(rows.map((r) => r.key));
      for (const row of rows) if (row.parent) assert.ok(keys.has(row.parent), `containerd lists ${row.key}'s parent ${row.parent}`);
      const tree = await ctrSnapshot(['tree']);
      for (const container of ['runner', 'stopped']) assert.match(tree, new RegExp(`\\\\_ ${container}$`, 'm'), tree);
      const listed = await strataSnapshots(client!);
      const names = new Set(listed.map((s) => s.name));
      for (const s of listed) if (s.parent) assert.ok(names.has(s.parent), `strata lists ${s.name}'s parent ${s.parent}`);
    };

    test('containers set up before the restart', async () => {
      await containerd.ctrOk(['run', '-d', '--snapshotter', 'strata', LAYERED, 'runner', 'sleep', '1000']);
      const first = await containerd.ctrOk(['run', '--snapshotter', 'strata', LAYERED, 'stopped', 'sh', '-c', 'cat /kept 2>/dev/null || echo none; echo kept > /kept']);
      assert.equal(first.trim(), 'none');
      assert.equal((await strataSnapshot('runner')).kind, 'active');
      assert.equal((await strataSnapshot('stopped')).kind, 'active');
    });

    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      test(`after ${signal} and a new start on the same root and socket, containers and snapshots are intact`, async () => {
        // Nothing left for the collector to remove, so strata's list only changes if the restart changes it.
        await collectGarbage();
        const before = await strataSnapshots(client!);
        assert.equal(await stopStrata(signal), signal === 'SIGTERM' ? 0 : 'SIGKILL');
        // The running container's mounts belong to the kernel, not to strata.
        assert.equal((await exec('runner', `echo ${signal} > /tmp/during && cat /tmp/during /data/keep/a.txt`)).trim(), `${signal}\nlayer two`);

        await startStrata();
        await waitFor('containerd to reach the restarted strata', async () =>
          (await containerd.ctr(['snapshot', '--snapshotter', 'strata', 'info', 'runner'])).code === 0 ? true : undefined,
        );
        const restarted = await strataSnapshots(client!);
        assert.deepEqual(restarted.map(comparable).sort(byName), before.map(comparable).sort(byName));
        await assertNoMissingParents();

        assert.equal((await exec('runner', 'echo after > /tmp/after && cat /tmp/during /tmp/after')).trim(), `${signal}\nafter`);
        const again = await containerd.ctrOk(['task', 'start', 'stopped']);
        assert.equal(again.trim(), 'kept', 'the stopped container keeps what it wrote');

        const fresh = await containerd.ctrOk(['run', '--rm', '--snapshotter', 'strata', LAYERED, `fresh-${randomBytes(3).toString('hex')}`, 'cat', '/data/three.txt']);
        assert.equal(fresh, 'layer three\n');
      });
    }
  });
});

function comparable(info: SnapshotInfo) {
  return { name: info.name, parent: info.parent, kind: info.kind, labels: info.labels, createdAt: info.createdAt.toString(), updatedAt: info.updatedAt.toString() };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name);
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
