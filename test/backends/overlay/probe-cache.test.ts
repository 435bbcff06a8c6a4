import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createOverlayBackend } from '../../../src/backends/overlay';
import type { OverlayFeatures } from '../../../src/backends/overlay/features';
import { probeOncePerBoot, type ProbeOutcome } from '../../../src/backends/overlay/probe-cache';
import { MetaStore } from '../../../src/store/metastore';
import { tempRoot } from '../../mount/temp-root';

const FEATURES: OverlayFeatures = { indexOff: true, userxattr: false };

/** A probe that counts its runs and finds `outcome`. */
function countingProbe(outcome: ProbeOutcome) {
  const probe = async () => {
    probe.runs++;
    return outcome;
  };
  probe.runs = 0;
  return probe;
}

describe('overlay probes, once per boot', () => {
  it('runs a probe once and keeps its outcome, with and without a reason', async (t) => {
    const dir = await tempRoot(t);
    for (const outcome of [{}, { objectStoreReason: 'no data-only layers' }]) {
      const file = path.join(dir, `probe-${outcome.objectStoreReason === undefined}.json`);
      const probe = countingProbe(outcome);
      assert.deepEqual(await probeOncePerBoot(file, dir, FEATURES, probe), outcome);
      assert.deepEqual(await probeOncePerBoot(file, dir, FEATURES, probe), outcome);
      assert.equal(probe.runs, 1);
    }
  });

  it('probes again for other features, another file system or boot, or a torn record', async (t) => {
    const dir = await tempRoot(t);
    const file = path.join(dir, 'probe.json');
    const probe = countingProbe({});
    await probeOncePerBoot(file, dir, FEATURES, probe);
    await probeOncePerBoot(file, dir, { ...FEATURES, userxattr: true }, probe);
    assert.equal(probe.runs, 2);

    for (const change of ['bootId', 'device'] as const) {
      const record = JSON.parse(await readFile(file, 'utf8'));
      record.key[change] = change === 'device' ? record.key.device + 1 : 'another-boot';
      await writeFile(file, JSON.stringify(record));
      await probeOncePerBoot(file, dir, { ...FEATURES, userxattr: true }, probe);
    }
    assert.equal(probe.runs, 4);

    await writeFile(file, '{"key":');
    await probeOncePerBoot(file, dir, FEATURES, probe);
    assert.equal(probe.runs, 5);
  });

  it('does not keep a probe that failed', async (t) => {
    const dir = await tempRoot(t);
    const file = path.join(dir, 'probe.json');
    const failing = () => Promise.reject(new Error('overlayfs is not usable'));
    await assert.rejects(probeOncePerBoot(file, dir, FEATURES, failing), /not usable/);
    const probe = countingProbe({});
    await probeOncePerBoot(file, dir, FEATURES, probe);
    assert.equal(probe.runs, 1);
  });

  it('a restarted overlay backend takes its object-store mode from the kept outcome', async (t) => {
    const root = await tempRoot(t);
    const store = MetaStore.open(path.join(root, 'metadata'));
    t.after(() => store.close());
    const first = await createOverlayBackend({ root, objectStore: 'auto', store });
    await first.close();
    const probeFile = path.join(root, 'overlay-probe.json');
    const record = JSON.parse(await readFile(probeFile, 'utf8'));
    // Had the first start's probe found no data-only layers, the restart would say so without mounting.
    record.outcome = { objectStoreReason: 'kept from the first start' };
    await writeFile(probeFile, JSON.stringify(record));

    const restarted = await createOverlayBackend({ root, objectStore: 'auto', store });
    t.after(() => restarted.close());
    const { objectStore } = await restarted.status();
    assert.equal(objectStore.mode, 'off');
    assert.equal(objectStore.reason, 'kept from the first start');
  });
});
