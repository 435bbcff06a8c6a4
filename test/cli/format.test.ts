import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mountCommands } from '../../src/cli/format/mounts';
import { formatTimestamp } from '../../src/cli/format/snapshot';
import { humanBytes } from '../../src/bytes';
import { formatTable } from '../../src/cli/format/table';
import { buildTree, drawTree } from '../../src/cli/format/tree';
import type { SnapshotInfo } from '../../src/snapshots/types';

describe('CLI formatting', () => {
  test('humanBytes uses binary units with one decimal', () => {
    assert.equal(humanBytes(0), '0 B');
    assert.equal(humanBytes(1023), '1023 B');
    assert.equal(humanBytes(1024), '1.0 KiB');
    assert.equal(humanBytes(1536), '1.5 KiB');
    assert.equal(humanBytes(10 * 1024 ** 3), '10.0 GiB');
  });

  test('formatTimestamp keeps all nine nanosecond digits', () => {
    assert.equal(formatTimestamp(0n), '1970-01-01T00:00:00.000000000Z');
    assert.equal(formatTimestamp(1_700_000_000_000_000_123n), '2023-11-14T22:13:20.000000123Z');
  });

  test('mountCommands joins targets and quotes what a shell would split', () => {
    const lines = mountCommands('/mnt/x', [
      { type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b', 'upperdir=/u'] },
      { type: 'bind', source: '/data/my layer', target: 'sub', options: [] },
    ]);
    assert.deepEqual(lines, [
      'mount -t overlay overlay /mnt/x -o lowerdir=/a:/b,upperdir=/u',
      `mount -t bind '/data/my layer' /mnt/x/sub`,
    ]);
  });

  test('formatTable pads every column but the last', () => {
    assert.equal(formatTable(['KEY', 'KIND'], [['a-long-key', 'Active'], ['b', 'View']]), 'KEY         KIND\na-long-key  Active\nb           View');
  });

  test('buildTree makes a snapshot whose parent is not listed a root', () => {
    const info = (name: string, parent: string): SnapshotInfo => ({
      name,
      parent,
      kind: 'committed',
      labels: {},
      createdAt: 0n,
      updatedAt: 0n,
    });
    const roots = buildTree([info('c', 'b'), info('b', 'a'), info('orphan', 'gone'), info('a', '')]);
    assert.deepEqual(drawTree(roots), ['\\_ a', '  \\_ b', '    \\_ c', '\\_ orphan']);
  });
});
