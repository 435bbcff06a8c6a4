import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { thinConfigSchema } from '../../../src/backends/thin';
import { parseSize } from '../../../src/bytes';

describe('thin config', () => {
  test('sizes read as numbers, decimal units and binary units', () => {
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('10GB'), 10_000_000_000);
    assert.equal(parseSize('512MiB'), 512 * 1024 * 1024);
    assert.equal(parseSize('1.5 GiB'), 1.5 * 1024 ** 3);
    assert.equal(parseSize('100'), 100);
    assert.equal(parseSize('10 parsecs'), undefined);
    assert.equal(parseSize(-1), undefined);
    assert.equal(parseSize(1.5), undefined);
  });

  test('defaults follow Docker loopback pools', () => {
    const config = thinConfigSchema.parse({});
    assert.equal(config.pool_name, undefined);
    assert.equal(config.data_size, 100e9);
    assert.equal(config.metadata_size, 2e9);
    assert.equal(config.base_image_size, 10e9);
    assert.equal(config.fs_type, 'ext4');
    assert.equal(config.async_remove, false);
    assert.equal(config.discard_blocks, false);
    assert.deepEqual(config.min_free_space, { percent: 10 });
  });

  test('min_free_space takes a percentage or a size', () => {
    assert.deepEqual(thinConfigSchema.parse({ min_free_space: '25%' }).min_free_space, { percent: 25 });
    assert.deepEqual(thinConfigSchema.parse({ min_free_space: '1GiB' }).min_free_space, { bytes: 1024 ** 3 });
    assert.deepEqual(thinConfigSchema.parse({ min_free_space: 0 }).min_free_space, { bytes: 0 });
    assert.throws(() => thinConfigSchema.parse({ min_free_space: '150%' }), /percentage up to 100%/);
  });

  test('bad values are rejected with what was expected', () => {
    assert.throws(() => thinConfigSchema.parse({ base_image_size: 'huge' }), /expected a size like/);
    assert.throws(() => thinConfigSchema.parse({ fs_type: 'btrfs' }));
    assert.throws(() => thinConfigSchema.parse({ pool_name: 'has space' }), /device-mapper name/);
    assert.throws(() => thinConfigSchema.parse({ data_sise: '1GB' }), /data_sise/);
    assert.throws(() => thinConfigSchema.parse({ metadata_size: '16GiB' }), /kernel's limit for thin-pool metadata/);
    assert.equal(thinConfigSchema.parse({ metadata_size: '15GiB' }).metadata_size, 15 * 1024 ** 3);
  });
});
