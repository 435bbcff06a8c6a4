/**
 * containerd's snapshot rules, checked through a real gRPC client on a unix
 * socket. Backend-neutral: runs on overlay on the host and on thin in the VM
 * (STRATA_TEST_BACKEND).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { codeOf, startTestServer, TEST_BACKEND, type TestServer } from '../support/strata-server';

describe(`snapshot rules (${TEST_BACKEND})`, () => {
  let t: TestServer;
  let n = 0;
  /** A fresh key shaped like containerd's rewritten keys, spaces included. */
  const key = (what: string) => `default/${++n}/${what} sha256:${n}`;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t?.close();
  });

  it('prepares an active snapshot with created == updated and stored labels', async () => {
    const k = key('active');
    const mounts = await t.client.prepare(k, '', { 'containerd.io/snapshot/a': 'b' });
    assert.ok(mounts.length > 0);
    const info = await t.client.stat(k);
    assert.equal(info.name, k);
    assert.equal(info.kind, 'active');
    assert.equal(info.parent, '');
    assert.deepEqual(info.labels, { 'containerd.io/snapshot/a': 'b' });
    assert.equal(info.createdAt, info.updatedAt);
  });

  it('answers AlreadyExists for a key in use, by Prepare and by View', async () => {
    const k = key('dup');
    await t.client.prepare(k);
    assert.equal(await codeOf(t.client.prepare(k)), 'AlreadyExists');
    assert.equal(await codeOf(t.client.view(k)), 'AlreadyExists');
  });

  it('requires the parent to exist (NotFound) and be committed (InvalidArgument)', async () => {
    assert.equal(await codeOf(t.client.prepare(key('orphan'), 'no-such-parent')), 'NotFound');
    assert.equal(await codeOf(t.client.view(key('orphan-view'), 'no-such-parent')), 'NotFound');
    const active = key('active-parent');
    await t.client.prepare(active);
    assert.equal(await codeOf(t.client.prepare(key('child'), active)), 'InvalidArgument');
    const view = key('view-parent');
    await t.client.view(view);
    assert.equal(await codeOf(t.client.view(key('child'), view)), 'InvalidArgument');
  });

  it('rejects an empty key as InvalidArgument', async () => {
    assert.equal(await codeOf(t.client.prepare('')), 'InvalidArgument');
    assert.equal(await codeOf(t.client.stat('')), 'NotFound');
  });

  it('commits an active snapshot under a new name with the request labels', async () => {
    const k = key('to-commit');
    await t.client.prepare(k, '', { 'containerd.io/snapshot/old': 'x' });
    const before = await t.client.stat(k);
    const name = key('committed');
    await t.client.commit(name, k, { 'containerd.io/snapshot/new': 'y' });
    assert.equal(await codeOf(t.client.stat(k)), 'NotFound');
    const info = await t.client.stat(name);
    assert.equal(info.kind, 'committed');
    assert.deepEqual(info.labels, { 'containerd.io/snapshot/new': 'y' });
    // containerd's CommitActive stamps the committed snapshot as new: created == updated == now.
    assert.ok(info.createdAt > before.createdAt, 'Commit sets created to the commit time');
    assert.equal(info.updatedAt, info.createdAt);
  });

  it('refuses to commit to a taken name, a view, a committed or a missing snapshot', async () => {
    const taken = key('taken');
    await t.client.prepare(key('tmp'));
    const a = key('a');
    await t.client.prepare(a);
    await t.client.commit(taken, a);
    const b = key('b');
    await t.client.prepare(b);
    assert.equal(await codeOf(t.client.commit(taken, b)), 'AlreadyExists');
    const v = key('v');
    await t.client.view(v);
    assert.equal(await codeOf(t.client.commit(key('from-view'), v)), 'FailedPrecondition');
    assert.equal(await codeOf(t.client.commit(key('again'), taken)), 'FailedPrecondition');
    assert.equal(await codeOf(t.client.commit(key('x'), 'missing')), 'NotFound');
    // The refused commits left b active and usable.
    assert.equal((await t.client.stat(b)).kind, 'active');
  });

  it('commits with a parent only when the active snapshot has none', async () => {
    const base = key('base');
    const baseActive = key('base-active');
    await t.client.prepare(baseActive);
    await t.client.commit(base, baseActive);
    const loose = key('loose');
    await t.client.prepare(loose);
    const rebased = key('rebased');
    await t.client.commit(rebased, loose, {}, base);
    assert.equal((await t.client.stat(rebased)).parent, base);
    assert.equal(await codeOf(t.client.remove(base)), 'FailedPrecondition', 'the parent now has a child');

    const child = key('child');
    await t.client.prepare(child, base);
    assert.equal(await codeOf(t.client.commit(key('c2'), child, {}, base)), 'InvalidArgument');
    const loose2 = key('loose2');
    await t.client.prepare(loose2);
    assert.equal(await codeOf(t.client.commit(key('c3'), loose2, {}, 'missing-parent')), 'NotFound');
  });

  it('removes only childless snapshots, with FailedPrecondition otherwise, and frees the name', async () => {
    const parent = key('p');
    const pa = key('pa');
    await t.client.prepare(pa);
    await t.client.commit(parent, pa);
    const child = key('c');
    await t.client.prepare(child, parent);
    const view = key('v');
    await t.client.view(view, parent);
    assert.equal(await codeOf(t.client.remove(parent)), 'FailedPrecondition');
    await t.client.remove(child);
    assert.equal(await codeOf(t.client.remove(parent)), 'FailedPrecondition', 'the view is a child too');
    await t.client.remove(view);
    await t.client.remove(parent);
    assert.equal(await codeOf(t.client.remove(parent)), 'NotFound');
    await t.client.prepare(parent);
    assert.equal((await t.client.stat(parent)).kind, 'active', 'a removed name can be used again');
  });

  it('answers NotFound for every operation on a missing key', async () => {
    for (const call of [
      t.client.stat('missing'),
      t.client.mounts('missing'),
      t.client.usage('missing'),
      t.client.remove('missing'),
      t.client.update({ name: 'missing', labels: {} }),
    ]) {
      assert.equal(await codeOf(call), 'NotFound');
    }
  });

  it('has no mounts for a committed snapshot (FailedPrecondition)', async () => {
    const a = key('a');
    await t.client.prepare(a);
    const c = key('c');
    await t.client.commit(c, a);
    assert.equal(await codeOf(t.client.mounts(c)), 'FailedPrecondition');
  });

  it('updates labels by field mask and moves updated forward', async () => {
    const k = key('labels');
    await t.client.prepare(k, '', { a: '1', b: '2' });
    const before = await t.client.stat(k);
    let info = await t.client.update({ name: k, labels: { c: '3' } }, ['labels']);
    assert.deepEqual(info.labels, { c: '3' });
    assert.ok(info.updatedAt > before.updatedAt);
    assert.equal(info.createdAt, before.createdAt);
    info = await t.client.update({ name: k, labels: { d: '4', c: 'ignored' } }, ['labels.d']);
    assert.deepEqual(info.labels, { c: '3', d: '4' });
    info = await t.client.update({ name: k, labels: {} }, ['labels.c']);
    assert.deepEqual(info.labels, { d: '4' }, 'a masked label absent from the request is removed');
    info = await t.client.update({ name: k, labels: { e: '5' } });
    assert.deepEqual(info.labels, { e: '5' }, 'no mask replaces all labels');
    assert.deepEqual((await t.client.stat(k)).labels, { e: '5' });
  });

  it('rejects updates of immutable fields with InvalidArgument, ignoring the kind and parent in the request', async () => {
    const k = key('immutable');
    await t.client.prepare(k);
    assert.equal(await codeOf(t.client.update({ name: k, labels: {} }, ['name'])), 'InvalidArgument');
    assert.equal(await codeOf(t.client.update({ name: k, labels: {} }, ['parent'])), 'InvalidArgument');
    assert.equal(await codeOf(t.client.update({ name: k, labels: {} }, ['kind'])), 'InvalidArgument');
    // containerd's UpdateInfo never reads the request's parent: a different one is no error and changes nothing.
    const reparented = await t.client.update({ name: k, labels: { p: '1' }, parent: 'other' }, ['labels']);
    assert.equal(reparented.parent, '');
    assert.deepEqual(reparented.labels, { p: '1' });
    const unmasked = await t.client.update({ name: k, labels: { q: '2' }, parent: 'other' });
    assert.equal(unmasked.parent, '');
    assert.deepEqual(unmasked.labels, { q: '2' }, 'an empty mask replaces the labels whatever else the request holds');
    // containerd's proxy client sends every Update as COMMITTED: the value must not be taken as a change.
    const updated = await t.client.update({ name: k, labels: { x: '1' }, kind: 'committed' }, ['labels']);
    assert.equal(updated.kind, 'active');
    assert.deepEqual(updated.labels, { x: '1' });
  });

  it('limits a label to 4096 bytes of key plus value', async () => {
    const fits = { k: 'v'.repeat(4095) };
    const tooBig = { k: 'v'.repeat(4096) };
    await t.client.prepare(key('fits'), '', fits);
    assert.equal(await codeOf(t.client.prepare(key('too-big'), '', tooBig)), 'InvalidArgument');
    const k = key('upd');
    await t.client.prepare(k);
    assert.equal(await codeOf(t.client.update({ name: k, labels: tooBig }, ['labels'])), 'InvalidArgument');
    const a = key('a');
    await t.client.prepare(a);
    assert.equal(await codeOf(t.client.commit(key('c'), a, { 'é': 'x'.repeat(4095) })), 'InvalidArgument', 'bytes, not characters');
  });

  it('stamps times with sub-millisecond resolution', async () => {
    const times: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      const k = key('time');
      await t.client.prepare(k);
      times.push((await t.client.stat(k)).createdAt);
    }
    for (let i = 1; i < times.length; i++) assert.ok(times[i] > times[i - 1]);
    assert.ok(times.some((ns) => ns % 1_000_000n !== 0n), `times look millisecond-rounded: ${times.join(', ')}`);
    const now = BigInt(Date.now()) * 1_000_000n;
    assert.ok(now - times[0] < 60_000_000_000n && times[0] - now < 1_000_000_000n, 'times are wall-clock times');
  });

  it('reports usage: measured for active, zero for views', async () => {
    const k = key('usage');
    await t.client.prepare(k);
    const usage = await t.client.usage(k);
    assert.ok(usage.inodes >= 0 && usage.size >= 0);
    const v = key('view');
    await t.client.view(v);
    assert.deepEqual(await t.client.usage(v), { size: 0, inodes: 0 });
  });
});

describe(`List (${TEST_BACKEND})`, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.client.prepare('ns/1/base-a', '', { 'containerd.io/snapshot/gc.root': 'x' });
    await t.client.commit('ns/1/base', 'ns/1/base-a', { 'containerd.io/snapshot/tier': 'gold', 'a.b': 'v' });
    await t.client.prepare('ns/2/child one', 'ns/1/base', { 'a.b': 'w' });
    await t.client.view('ns/3/view', 'ns/1/base');
    await t.client.prepare('ns/4/lonely');
    for (let i = 0; i < 250; i++) await t.client.prepare(`bulk/${String(i).padStart(3, '0')}`, '', { bulk: 'yes' });
  });
  after(async () => {
    await t?.close();
  });
  const names = async (filters: string[] = []) => {
    const out: string[] = [];
    for await (const info of t.client.list(filters)) out.push(info.name);
    return out.filter((n) => !n.startsWith('bulk/'));
  };

  it('streams every snapshot, across several batches', async () => {
    let count = 0;
    for await (const _ of t.client.list()) count++;
    assert.equal(count, 254);
  });

  it('filters by kind, name, parent and labels with containerd syntax', async () => {
    assert.deepEqual(await names(['kind==committed']), ['ns/1/base']);
    assert.deepEqual(await names(['kind==view']), ['ns/3/view']);
    assert.deepEqual(await names(['parent==ns/1/base']), ['ns/2/child one', 'ns/3/view']);
    assert.deepEqual(await names(['name==ns/4/lonely']), ['ns/4/lonely']);
    assert.deepEqual(await names(['labels."a.b"==v']), ['ns/1/base']);
    assert.deepEqual(await names(['labels."a.b"']), ['ns/1/base', 'ns/2/child one']);
    // != matches snapshots without the label too, as in containerd.
    assert.deepEqual(await names(['labels."a.b"!=v']), ['ns/2/child one', 'ns/3/view', 'ns/4/lonely']);
    assert.deepEqual(await names(['name~=^ns/[34]/']), ['ns/3/view', 'ns/4/lonely']);
    assert.deepEqual(await names(['kind==active,parent==ns/1/base']), ['ns/2/child one']);
    assert.deepEqual(await names(['kind==view', 'name==ns/4/lonely']), ['ns/3/view', 'ns/4/lonely']);
    let bulk = 0;
    for await (const info of t.client.list(['labels.bulk==yes'])) bulk += info.labels.bulk === 'yes' ? 1 : 0;
    assert.equal(bulk, 250);
  });

  it('shows every change made since the last List: labels, commits, removals and a name taken again', async () => {
    const infos = async () => {
      const out = new Map<string, { kind: string; labels: Record<string, string>; updated: bigint }>();
      for await (const info of t.client.list()) out.set(info.name, { kind: info.kind, labels: info.labels, updated: info.updatedAt });
      return out;
    };
    await t.client.prepare('ns/5/changing-a');
    await t.client.prepare('ns/5/gone');
    await t.client.prepare('ns/5/reused', '', { first: 'yes' });
    const before = await infos();
    assert.deepEqual(await infos(), before, 'an unchanged store lists the same');

    const updated = await t.client.update({ name: 'bulk/007', labels: { bulk: 'no' } }, ['labels.bulk']);
    await t.client.commit('ns/5/changed', 'ns/5/changing-a');
    await t.client.remove('ns/5/gone');
    await t.client.remove('ns/5/reused');
    await t.client.view('ns/5/reused', 'ns/1/base', { second: 'yes' });
    await t.client.prepare('ns/5/transient');
    await t.client.remove('ns/5/transient');
    const after = await infos();

    assert.deepEqual(after.get('bulk/007'), { kind: 'active', labels: { bulk: 'no' }, updated: updated.updatedAt });
    assert.equal(after.has('ns/5/changing-a'), false);
    assert.equal(after.get('ns/5/changed')?.kind, 'committed');
    assert.equal(after.has('ns/5/gone'), false);
    assert.equal(after.has('ns/5/transient'), false);
    assert.equal(after.get('ns/5/reused')?.kind, 'view');
    assert.deepEqual(after.get('ns/5/reused')?.labels, { second: 'yes' });
    assert.deepEqual(after.get('bulk/008'), before.get('bulk/008'));
    // A filtered List in between sees the same.
    assert.deepEqual(await names(['name~=^ns/5/']), ['ns/5/changed', 'ns/5/reused']);
    await t.client.remove('ns/5/changed');
    await t.client.remove('ns/5/reused');
    await t.client.update({ name: 'bulk/007', labels: { bulk: 'yes' } }, ['labels.bulk']);
  });

  it('lists the writes that commit while Lists run beside them', async () => {
    const listed = async () => {
      const out = new Set<string>();
      for await (const info of t.client.list()) out.add(info.name);
      return out;
    };
    const keys = Array.from({ length: 8 }, (_, i) => `ns/6/overlap-${i}`);
    // Overlapping Prepares commit as a group; Lists sent among them see none, some or all.
    const writes = Promise.all(keys.map((key) => t.client.prepare(key)));
    const during = [listed(), listed()];
    await writes;
    await Promise.all(during);
    const after = await listed();
    assert.deepEqual(keys.filter((key) => !after.has(key)), []);
    await Promise.all(keys.map((key) => t.client.remove(key)));
    const removed = await listed();
    assert.deepEqual(keys.filter((key) => removed.has(key)), []);
  });

  it('rejects a malformed filter with InvalidArgument', async () => {
    assert.equal(await codeOf(names(['labels."unterminated'])), 'InvalidArgument');
    assert.equal(await codeOf(names(['name~=('])), 'InvalidArgument');
  });
});
