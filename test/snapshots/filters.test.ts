import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSnapshotError } from '../../src/snapshots/errors';
import { parseSnapshotFilters } from '../../src/snapshots/filters';
import type { SnapshotInfo } from '../../src/snapshots/types';

const info = (overrides: Partial<SnapshotInfo>): SnapshotInfo => ({
  name: 'default/1/layer',
  parent: '',
  kind: 'committed',
  labels: {},
  createdAt: 0n,
  updatedAt: 0n,
  ...overrides,
});

const base = info({ name: 'ns/base', kind: 'committed', labels: { 'containerd.io/gc.root': 'x', tier: 'gold' } });
const child = info({ name: 'ns/child one', parent: 'ns/base', kind: 'active', labels: { tier: 'silver' } });
const view = info({ name: 'ns/view', parent: 'ns/base', kind: 'view' });
const all = [base, child, view];

function select(...filters: string[]): string[] {
  const match = parseSnapshotFilters(filters);
  return all.filter(match).map((i) => i.name);
}

function parseError(...filters: string[]): string {
  try {
    parseSnapshotFilters(filters);
  } catch (err) {
    assert.ok(isSnapshotError(err, 'InvalidArgument'), `not InvalidArgument: ${err}`);
    return err.message;
  }
  assert.fail(`${JSON.stringify(filters)} parsed`);
}

describe('containerd filter syntax', () => {
  it('matches everything with no filters or an empty one', () => {
    assert.deepEqual(select(), ['ns/base', 'ns/child one', 'ns/view']);
    assert.deepEqual(select(''), ['ns/base', 'ns/child one', 'ns/view']);
  });

  it('compares kind, name and parent', () => {
    assert.deepEqual(select('kind==active'), ['ns/child one']);
    assert.deepEqual(select('kind!=active'), ['ns/base', 'ns/view']);
    assert.deepEqual(select('parent==ns/base'), ['ns/child one', 'ns/view']);
    assert.deepEqual(select('name=="ns/child one"'), ['ns/child one']);
    assert.deepEqual(select('name==ns/view'), ['ns/view']);
  });

  it('tests label presence and values, with quoted keys holding dots and slashes', () => {
    assert.deepEqual(select('labels."containerd.io/gc.root"'), ['ns/base']);
    assert.deepEqual(select('labels.tier'), ['ns/base', 'ns/child one']);
    assert.deepEqual(select('labels.tier==gold'), ['ns/base']);
    assert.deepEqual(select('labels.tier!=gold'), ['ns/child one', 'ns/view'], '!= also matches a missing label');
    assert.deepEqual(select('labels.containerd.io/gc.root'.replace('/', '')), [], 'unquoted dots split the path');
  });

  it('combines with comma as AND and several filters as OR', () => {
    assert.deepEqual(select('kind==active,labels.tier==silver'), ['ns/child one']);
    assert.deepEqual(select('kind==active,labels.tier==gold'), []);
    assert.deepEqual(select('kind==view', 'labels.tier==gold'), ['ns/base', 'ns/view']);
  });

  it('matches regular expressions, with alternative quotes', () => {
    assert.deepEqual(select('name~=child'), ['ns/child one']);
    assert.deepEqual(select('name~=|^ns/(base\\x7cview)$|'), ['ns/base', 'ns/view'], 'an escaped bar inside |...|');
    assert.deepEqual(select('labels.tier~=/^(gold|silver)$/'), ['ns/base', 'ns/child one']);
  });

  it('does not match unknown fields', () => {
    assert.deepEqual(select('size==1'), []);
    assert.deepEqual(select('created'), []);
  });

  it('decodes escapes in quoted strings', () => {
    const tabbed = info({ name: 'a\tb' });
    assert.equal(parseSnapshotFilters(['name=="a\\tb"'])(tabbed), true);
    assert.equal(parseSnapshotFilters(['name=="a\\x09b"'])(tabbed), true);
    assert.equal(parseSnapshotFilters(['name=="a\\u0009b"'])(tabbed), true);
  });

  it('rejects malformed filters with InvalidArgument naming the problem', () => {
    assert.match(parseError('labels."unterminated'), /not terminated/);
    assert.match(parseError('name=='), /expected a value/);
    assert.match(parseError('name==a,'), /expected field/);
    assert.match(parseError('name=>a'), /unsupported operator|expected/);
    assert.match(parseError('name=="a\\qb"'), /illegal escape/);
    assert.match(parseError('name==/a/'), /invalid quote/);
    assert.match(parseError('name~=('), /invalid regular expression/);
    assert.match(parseError('kind==active', 'name!!x'), /unsupported operator/);
  });
});
