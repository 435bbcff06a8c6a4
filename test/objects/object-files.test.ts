import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { DIGEST_XATTR, objectName } from '../../src/objects/names';
import { ObjectCollisionError, ObjectFiles, writeAll } from '../../src/objects/object-files';
import { tempRoot } from '../mount/temp-root';

const sha256 = (content: string) => createHash('sha256').update(content).digest();

async function objectsIn(t: TestContext): Promise<ObjectFiles> {
  const files = new ObjectFiles(path.join(await tempRoot(t), 'objects'));
  files.create();
  return files;
}

function written(files: ObjectFiles, content: string): string {
  const temp = files.createTemp();
  writeAll(temp.fd, Buffer.from(content));
  fs.closeSync(temp.fd);
  return temp.path;
}

describe('object files', () => {
  it('writes a content once: a second store of it leaves the first object as it is', async (t) => {
    const files = await objectsIn(t);
    const name = files.storeContent(sha256('hello\n'), [Buffer.from('hel'), Buffer.from('lo\n')]);
    assert.equal(name, objectName(sha256('hello\n')));
    const first = fs.statSync(files.objectPath(name));
    assert.equal(files.storeContent(sha256('hello\n'), [Buffer.from('hello\n')]), name);
    assert.equal(fs.statSync(files.objectPath(name)).ino, first.ino);
    assert.equal(first.mode & 0o7777, 0o400);
    assert.deepEqual(getAttributeSync(files.objectPath(name), DIGEST_XATTR), sha256('hello\n'));

    const kept = files.keep(written(files, 'hello\n'), sha256('hello\n'));
    assert.equal(kept, name);
    assert.equal(fs.statSync(files.objectPath(name)).ino, first.ino);
    assert.deepEqual(fs.readdirSync(files.tempDir), [], 'the duplicate is dropped');
  });

  it('replaces whole an object a crash left part-written (no digest yet), whichever way the content comes', async (t) => {
    const files = await objectsIn(t);
    for (const [content, store] of [
      ['small\n', (c: string) => files.storeContent(sha256(c), [Buffer.from(c)])],
      ['streamed\n', (c: string) => files.keep(written(files, c), sha256(c))],
    ] as const) {
      const target = files.objectPath(objectName(sha256(content)));
      fs.writeFileSync(target, content.slice(0, 3), { mode: 0o400 });
      assert.equal(store(content), objectName(sha256(content)));
      assert.equal(fs.readFileSync(target, 'utf8'), content);
      assert.deepEqual(getAttributeSync(target, DIGEST_XATTR), sha256(content));
    }
  });

  it('refuses content whose name is taken by an object of another digest', async (t) => {
    const files = await objectsIn(t);
    const target = files.objectPath(objectName(sha256('wanted\n')));
    fs.writeFileSync(target, 'impostor\n');
    setAttributeSync(target, DIGEST_XATTR, sha256('impostor\n'));
    assert.throws(() => files.storeContent(sha256('wanted\n'), [Buffer.from('wanted\n')]), ObjectCollisionError);
    assert.throws(() => files.keep(written(files, 'wanted\n'), sha256('wanted\n')), ObjectCollisionError);
    assert.equal(fs.readFileSync(target, 'utf8'), 'impostor\n');
  });

  it('adopts a layer file\'s inode without copying, and seals it once the layer no longer shows it', async (t) => {
    const files = await objectsIn(t);
    const layerFile = path.join(path.dirname(files.dir), 'file');
    fs.writeFileSync(layerFile, 'adopted\n', { mode: 0o644 });
    fs.chownSync(layerFile, 1000, 1000);
    const { name, adopted } = files.adopt(layerFile, sha256('adopted\n'));
    assert.ok(adopted);
    assert.equal(fs.statSync(files.objectPath(name)).ino, fs.statSync(layerFile).ino);
    fs.rmSync(layerFile);
    files.seal(name);
    const sealed = fs.statSync(files.objectPath(name));
    assert.deepEqual([sealed.mode & 0o7777, sealed.uid, sealed.gid], [0o400, 0, 0]);

    fs.writeFileSync(layerFile, 'adopted\n');
    assert.deepEqual(files.adopt(layerFile, sha256('adopted\n')), { name, adopted: false });
  });
});
