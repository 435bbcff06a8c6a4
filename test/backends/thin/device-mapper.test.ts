/**
 * strata's device-mapper requests (ioctls, no dmsetup) checked against what
 * dmsetup, a separate implementation, reads back from the kernel. The
 * devices use the `error` target, which device-mapper's core always has.
 */
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import * as dm from '../../../src/backends/thin/device-mapper';
import { DeviceMapperError } from '../../../src/backends/thin/dm-ioctl';
import { makedev } from '../../../src/backends/thin/libc';
import { dmsetup, removeDevices, skipReason } from './fixture';

const PREFIX = 'strata-dmtest-';
const NAME = `${PREFIX}one`;

async function dmsetupInfo(name: string): Promise<{ major: number; minor: number; attr: string } | undefined> {
  try {
    const [major, minor, attr] = (await dmsetup('info', '-c', '--noheadings', '--separator', ' ', '-o', 'major,minor,attr', name)).trim().split(' ');
    return { major: Number(major), minor: Number(minor), attr };
  } catch {
    return undefined;
  }
}

describe('device-mapper requests', { skip: skipReason }, () => {
  afterEach(() => removeDevices(PREFIX));

  test('create activates the table and makes the node of the kernel device', async () => {
    await dm.create(NAME, '0 2048 error');
    assert.equal((await dmsetup('table', NAME)).trim(), '0 2048 error');
    assert.equal(await dm.table(NAME), '0 2048 error');
    assert.equal(await dm.status(NAME), (await dmsetup('status', NAME)).trim());
    const kernel = await dmsetupInfo(NAME);
    assert.ok(kernel);
    assert.equal(kernel.attr, 'L--w', 'live, not suspended');
    const node = statSync(dm.nodePath(NAME), { bigint: true });
    assert.ok(node.isBlockDevice());
    assert.equal(node.rdev, makedev(kernel.major, kernel.minor));
    assert.equal((node.mode & 0o777n).toString(8), '600');
    const info = await dm.info(NAME);
    assert.deepEqual({ major: info?.major, minor: info?.minor, suspended: info?.suspended, openCount: info?.openCount }, { major: kernel.major, minor: kernel.minor, suspended: false, openCount: 0 });
    assert.ok(dm.hasNode({ name: NAME, major: kernel.major, minor: kernel.minor }));
    assert.equal(dm.hasNode({ name: NAME, major: kernel.major, minor: kernel.minor + 1 }), false);
  });

  test('infoAll lists every device the kernel has, as dmsetup does', async () => {
    await dm.create(`${NAME}-a`, '0 8 error');
    await dm.create(`${NAME}-b`, '0 8 error');
    const listed = (await dmsetup('ls')).split('\n').map((line) => line.split('\t')[0].trim()).filter((name) => name !== '' && name !== 'No devices found');
    const all = await dm.infoAll();
    assert.deepEqual([...all.keys()].sort(), listed.sort());
    assert.ok(all.has(`${NAME}-a`) && all.has(`${NAME}-b`));
  });

  test('a table the kernel refuses leaves no device behind', async () => {
    await assert.rejects(dm.create(NAME, '0 2048 no-such-target'), (err) => err instanceof DeviceMapperError && err.code === 'EINVAL');
    assert.equal(await dmsetupInfo(NAME), undefined);
    assert.equal(await dm.info(NAME), undefined);
  });

  test('a taken name is refused as busy, and the device is left as it was', async () => {
    await dm.create(NAME, '0 2048 error');
    await assert.rejects(dm.create(NAME, '0 4096 error'), (err) => dm.isBusy(err));
    assert.equal((await dmsetup('table', NAME)).trim(), '0 2048 error');
  });

  test('suspend, reload and resume', async () => {
    await dm.create(NAME, '0 2048 error');
    await dm.suspend(NAME);
    assert.equal((await dmsetupInfo(NAME))?.attr, 'L-sw');
    assert.equal((await dm.info(NAME))?.suspended, true);
    await dm.reload(NAME, '0 4096 error');
    assert.equal((await dmsetup('table', NAME)).trim(), '0 2048 error', 'the loaded table waits for the resume');
    await dm.resume(NAME);
    assert.equal((await dmsetupInfo(NAME))?.attr, 'L--w');
    assert.equal((await dmsetup('table', NAME)).trim(), '0 4096 error');
  });

  test('a stale node of the name is replaced by the device it now names', async () => {
    writeFileSync(dm.nodePath(NAME), 'not a device');
    await dm.create(NAME, '0 2048 error');
    const kernel = await dmsetupInfo(NAME);
    assert.ok(kernel);
    assert.equal(statSync(dm.nodePath(NAME), { bigint: true }).rdev, makedev(kernel.major, kernel.minor));
  });

  test('remove takes the device and its node; a second remove finds no device', async () => {
    await dm.create(NAME, '0 2048 error');
    await dm.remove(NAME, 'once');
    assert.equal(await dmsetupInfo(NAME), undefined);
    assert.equal(statSync(dm.nodePath(NAME), { throwIfNoEntry: false }), undefined);
    await assert.rejects(dm.remove(NAME, 'once'), (err) => dm.isNoSuchDevice(err));
    await assert.rejects(dm.message(NAME, 0, 'anything'), (err) => dm.isNoSuchDevice(err));
  });

  test('a name longer than the kernel takes is refused before any request', async () => {
    await assert.rejects(dm.create(`${PREFIX}${'x'.repeat(128)}`, '0 8 error'), /longer than 127 bytes/);
  });
});
