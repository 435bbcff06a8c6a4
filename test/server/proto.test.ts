/**
 * The JSON `npm run build` writes from proto/ (what the server and clients
 * load) says what the .proto files say, and messages keep the shape the
 * handlers rely on: field names as written, int64 and enums as strings,
 * defaults filled in.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { protoFiles, protoJson } from '../../scripts/build/proto-json';
import { loadService, PROTO_JSON_ROOT, SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE } from '../../src/server/proto';

describe('proto JSON', () => {
  it('matches every .proto file under proto/', () => {
    const files = protoFiles();
    assert.ok(files.includes(SNAPSHOTS_PROTO));
    for (const file of files) {
      const built = JSON.parse(fs.readFileSync(path.join(PROTO_JSON_ROOT, `${file}.json`), 'utf8'));
      assert.deepEqual(built, JSON.parse(JSON.stringify(protoJson(file))), file);
    }
  });

  it('decodes with snake_case names, int64 and enums as strings and defaults filled in', () => {
    const stat = loadService(SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE).service.Stat;
    const response = { info: { name: 'a', kind: 'COMMITTED', labels: { x: 'y' }, created_at: { seconds: '12', nanos: 3 } } };
    const decoded = stat.responseDeserialize(stat.responseSerialize(response)) as { info: Record<string, unknown> };
    assert.equal(decoded.info.kind, 'COMMITTED');
    assert.equal(decoded.info.parent, '');
    assert.deepEqual(decoded.info.labels, { x: 'y' });
    assert.deepEqual(decoded.info.created_at, { seconds: '12', nanos: 3 });
    assert.equal(stat.path, `/${SNAPSHOTS_SERVICE}/Stat`);
  });
});
