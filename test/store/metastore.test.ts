import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isSnapshotError } from '../../src/snapshots/errors';
import { MAX_CHANGED_NAMES, MetaStore } from '../../src/store/metastore';
import type { SnapshotRecord } from '../../src/store/records';

function record(id: string, overrides: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return {
    id,
    kind: 'active',
    parent: '',
    parentIds: [],
    labels: {},
    created: '1700000000000000001',
    updated: '1700000000000000001',
    children: 0,
    size: 0,
    inodes: 0,
    ...overrides,
  };
}

describe('MetaStore', () => {
  let dir: string;
  let store: MetaStore;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-store-'));
    store = MetaStore.open(path.join(dir, 'metadata'));
  });
  afterEach(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('stores records under names with spaces and slashes, as containerd sends them', async () => {
    const name = 'default/12/extract-123 sha256:abc';
    await store.transact(() => store.put(name, record('1', { labels: { a: 'b' } })));
    assert.deepEqual(store.get(name), record('1', { labels: { a: 'b' } }));
    assert.equal(store.get('default/12/extract-123'), undefined);
  });

  it('allocates increasing ids that survive reopening', async () => {
    const first = await store.transact(() => [store.allocateId(), store.allocateId()]);
    assert.deepEqual(first, ['1', '2']);
    // Past the first block the store's bound moves: ids stay unique across it.
    const more: number[] = [];
    for (let i = 0; i < 150; i++) more.push(Number(await store.transact(() => store.allocateId())));
    assert.deepEqual(more, more.map((_, i) => i + 3));
    await store.close();
    store = MetaStore.open(path.join(dir, 'metadata'));
    assert.ok(Number(await store.transact(() => store.allocateId())) > 152, 'an id handed out before reopening came back');
  });

  it('never hands out again an id a committed transaction holds, though the transaction that raised its bound rolled back', async () => {
    // The first allocation raises the bound and is rolled back with its transaction.
    await assert.rejects(
      store.transact(() => {
        store.allocateId();
        throw new Error('boom');
      }),
      /boom/,
    );
    const kept = Number(await store.transact(() => store.allocateId()));
    await store.close();
    store = MetaStore.open(path.join(dir, 'metadata'));
    assert.ok(Number(await store.transact(() => store.allocateId())) > kept);
  });

  it('rolls a failed transaction back entirely', async () => {
    await assert.rejects(
      store.transact(() => {
        store.allocateId();
        store.put('a', record('1'));
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(store.get('a'), undefined);
  });

  it('sees its own writes inside a transaction', async () => {
    await store.transact(() => {
      store.put('a', record('1'));
      assert.equal(store.get('a')?.id, '1');
      store.delete('a');
      assert.equal(store.get('a'), undefined);
    });
  });

  it('lists entries in name order and reports live ids', async () => {
    await store.transact(() => {
      store.put('b', record('2'));
      store.put('a', record('1'));
      store.put('c', record('7'));
    });
    assert.deepEqual([...store.entries()].map((e) => e.name), ['a', 'b', 'c']);
    assert.deepEqual([...store.liveIds()].sort(), ['1', '2', '7']);
  });

  it('rejects keys LMDB cannot hold with InvalidArgument', () => {
    const err = (() => {
      try {
        store.get('k'.repeat(5000));
      } catch (e) {
        return e;
      }
    })();
    assert.ok(isSnapshotError(err, 'InvalidArgument'), String(err));
  });

  it('commits writes of a backend database with the snapshot transaction', async () => {
    const devices = store.backendDatabase('test');
    await assert.rejects(
      store.transact(() => {
        devices.putSync('dev-1', { state: 'creating' });
        store.put('a', record('1'));
        throw new Error('abort');
      }),
    );
    assert.equal(devices.get('dev-1'), undefined);
    await store.transact(() => {
      devices.putSync('dev-1', { state: 'created' });
      store.put('a', record('1'));
    });
    assert.deepEqual(devices.get('dev-1'), { state: 'created' });
  });

  it('commits concurrent transactions together, each rolled back alone when it throws', async () => {
    // Two calls racing for one name, as two Prepares of the same key: the
    // second sees the first's write inside the shared batch and refuses.
    const claim = (name: string, id: string) =>
      store.transact(() => {
        store.allocateId();
        if (store.get(name)) throw new Error(`${name} exists`);
        store.put(name, record(id));
        return id;
      });
    const outcomes = await Promise.allSettled([claim('a', '1'), claim('a', '2'), claim('b', '3')]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
      ['1', 'a exists', '3'],
    );
    assert.equal(store.get('a')?.id, '1');
    // Ids only grow: the failed call's id is skipped, not handed out again.
    assert.equal(await store.transact(() => store.allocateId()), '4');
  });

  it('reports the names it wrote since it was last asked, and none while a queued write has not settled', async () => {
    store.takeChangedNames();
    await store.transact(() => {
      store.put('a', record('1'));
      store.put('b', record('2'));
    });
    assert.deepEqual(store.takeChangedNames(), new Set(['a', 'b']));
    assert.deepEqual(store.takeChangedNames(), new Set());

    // Overlapping calls are queued for lmdb-js's write thread.
    const writes = Promise.all([store.transact(() => store.delete('a')), store.transact(() => store.put('c', record('3')))]);
    assert.equal(store.takeChangedNames(), undefined);
    await writes;
    assert.deepEqual(store.takeChangedNames(), new Set(['a', 'c']));

    // A rolled-back write is reported too: its name is read again and found as it was.
    await assert.rejects(
      store.transact(() => {
        store.put('d', record('4'));
        throw new Error('no');
      }),
    );
    assert.deepEqual(store.takeChangedNames(), new Set(['d']));
    assert.equal(store.stored('d'), undefined);
    assert.equal(store.stored('c')?.record.id, '3');
    assert.deepEqual([...store.names()], ['b', 'c']);
  });

  it('stops listing written names past MAX_CHANGED_NAMES, once', async () => {
    store.takeChangedNames();
    await store.transact(() => {
      for (let i = 0; i <= MAX_CHANGED_NAMES; i++) store.put(`many/${i}`, record(String(i)));
    });
    assert.equal(store.takeChangedNames(), undefined);
    await store.transact(() => store.delete('many/0'));
    assert.deepEqual(store.takeChangedNames(), new Set(['many/0']));
  });
});
