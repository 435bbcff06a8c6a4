/**
 * kill -9 of the server while its differ applies layers into the object
 * store, many times over: after each restart every acknowledged commit reads
 * back through the kernel, and after Cleanup the store holds exactly the
 * objects the stubs left on disk name (none missing, none extra).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetchStatus } from '../../src/client/status-client';
import { withMounts } from '../../src/mount';
import { killWhileWorking } from '../support/crash-rounds';
import { startFakeContainerd, type FakeContainerd } from '../support/fake-containerd';
import type { LayerEntry, LayerSpec } from '../support/oci-image';
import { referencedObjects, storedObjects } from '../support/stored-objects';
import { layerBlobs } from './layer-blobs';
import { spawnStrataDiffer, type StrataDiffer } from './strata-differ';

const ROUNDS = Number(process.env.STRATA_APPLY_CRASH_ROUNDS ?? 8);
const WORKERS = 3;
const LAYERS = 3;
const FILES = 300;

/** Layer `i`: FILES files, half of them contents every layer has, and one large file of its own (the streamed path). */
function layerSpec(i: number): LayerSpec {
  const entries: LayerEntry[] = [];
  for (let f = 0; f < FILES; f++) {
    const owner = f % 2 === 0 ? 'shared' : `layer ${i}`;
    entries.push({ type: 'file', path: `f${f}`, content: `${owner} content ${f}\n`.repeat(1 + (f % 20) * 20) });
  }
  entries.push({ type: 'file', path: 'own', content: `layer ${i}\n` }, { type: 'file', path: 'big', content: `big ${i}\n`.repeat(60_000) });
  return { entries };
}

describe('kill -9 during Apply (object store)', () => {
  let dir: string;
  let fake: FakeContainerd;
  let blobs: Array<{ media_type: string; digest: string; size: number }>;

  before(async () => {
    dir = await fs.mkdtemp('/tmp/sac-');
    fake = await startFakeContainerd(path.join(dir, 'containerd.sock'));
    const built = await layerBlobs(Array.from({ length: LAYERS }, (_, i) => layerSpec(i)), path.join(dir, 'blobs'));
    blobs = await Promise.all(built.map(async (blob) => ({ media_type: blob.mediaType, digest: fake.add(await fs.readFile(blob.file)), size: blob.size })));
  });

  after(async () => {
    await fake?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it(`keeps every committed layer readable and the store exact across ${ROUNDS} crashes`, async (t) => {
    const root = path.join(dir, 'r');
    /** Committed snapshot name -> the layer it holds. */
    const committed = new Map<string, number>();
    let counter = 0;
    let server: StrataDiffer | undefined;
    t.after(() => server?.strata.child.kill('SIGKILL'));

    const verify = async (round: number) => {
      for (const [name, layer] of committed) {
        const view = `verify/${round}/${name}`;
        const mounts = await server!.snapshots.view(view, name);
        const [own, big] = await withMounts(mounts, (mounted) =>
          Promise.all(['own', 'big'].map((file) => fs.readFile(path.join(mounted, file), 'utf8'))));
        assert.equal(own, `layer ${layer}\n`, `round ${round}: content of ${name}`);
        assert.ok(big === `big ${layer}\n`.repeat(60_000), `round ${round}: content of ${name}/big`);
        await server!.snapshots.remove(view);
      }
    };

    for (let round = 0; round < ROUNDS; round++) {
      server = await spawnStrataDiffer(dir, fake.address);
      const { objectStore } = (await fetchStatus(path.join(dir, 's.sock'))).backendStatus as { objectStore: { mode: string } };
      if (objectStore.mode !== 'on') return t.skip(`the object store is off here (${JSON.stringify(objectStore)})`);
      await verify(round);
      const uncertain = new Set<string>();
      await killWhileWorking(server.strata, 300 + ((round * 137) % 900), WORKERS, async () => {
        const id = ++counter;
        const layer = id % LAYERS;
        const key = `extract-${id}`;
        const name = `layer-${id}`;
        const mounts = await server!.snapshots.prepare(key);
        await server!.differ.apply(blobs[layer], mounts);
        uncertain.add(name);
        await server!.snapshots.commit(name, key);
        committed.set(name, layer);
        uncertain.delete(name);
      });
      server.snapshots.close();
      server.differ.close();
      for (const name of uncertain) committed.delete(name);
    }

    server = await spawnStrataDiffer(dir, fake.address);
    await verify(ROUNDS);
    assert.ok(committed.size >= 3, `the workload committed too little to prove anything (${committed.size})`);
    // Applies the crashes cut short leave active snapshots; containerd removes those.
    for await (const info of server.snapshots.list()) if (info.kind !== 'committed') await server.snapshots.remove(info.name);
    await server.snapshots.cleanup();
    assert.deepEqual(storedObjects(root).sort(), (await referencedObjects(root)).sort(), 'after Cleanup the store holds exactly the objects the layers name');
    await server.stop();
  });
});
