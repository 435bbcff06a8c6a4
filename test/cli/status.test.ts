import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/free-port';
import { STRATA_BIN } from '../support/strata-process';
import { startTestServer, TEST_BACKEND, TEST_OBJECT_STORE, type TestServer } from '../support/strata-server';

describe(`strata status (${TEST_BACKEND})`, () => {
  let t: TestServer;
  let metricsAddress: string;
  before(async () => {
    metricsAddress = `127.0.0.1:${await freePort()}`;
    t = await startTestServer({ metricsAddress });
    await t.client.prepare('s/1');
    await t.client.commit('s/layer', 's/1');
    await t.client.prepare('s/2', 's/layer');
    await t.client.view('s/3', 's/layer');
  });
  after(async () => {
    await t?.close();
  });
  // The server runs in this process: the CLI must run beside it, not block it.
  const status = async (...args: string[]) =>
    (await promisify(execFile)(process.execPath, [STRATA_BIN, '--address', t.address, 'status', ...args])).stdout;

  it('reports the server process, backend and snapshot counts as text and JSON', async () => {
    const json = JSON.parse(await status('--json'));
    assert.equal(json.backend, TEST_BACKEND);
    assert.equal(json.root, t.root);
    assert.deepEqual(json.snapshots, { active: 1, view: 1, committed: 1 });
    if (TEST_BACKEND === 'thin') {
      assert.ok(json.backendStatus.dataTotalBytes > 0);
      assert.ok(json.backendStatus.devicesByState.activated >= 1);
    } else {
      assert.equal(json.backendStatus.snapshotsDir, `${t.root}/snapshots`);
      const { objectStore } = json.backendStatus;
      assert.deepEqual(Object.keys(objectStore).filter((key) => ['mode', 'objects', 'bytes'].includes(key)).sort(), ['bytes', 'mode', 'objects']);
      assert.equal(objectStore.configured, TEST_OBJECT_STORE.object_store);
      if (TEST_OBJECT_STORE.object_store !== 'auto') assert.equal(objectStore.mode, TEST_OBJECT_STORE.object_store);
      assert.ok(Number.isInteger(objectStore.objects) && Number.isInteger(objectStore.bytes));
    }
    assert.equal(json.pid, process.pid);
    assert.ok(json.uptimeSeconds > 0 && json.uptimeSeconds < process.uptime() + 1, String(json.uptimeSeconds));
    assert.equal(json.metricsAddress, metricsAddress);
    const text = await status();
    assert.match(text, new RegExp(`^PID: ${process.pid}$`, 'm'));
    assert.match(text, /^Uptime: (\d+[dhms] ?)+$/m);
    assert.match(text, new RegExp(`^Root: ${t.root}$`, 'm'));
    assert.match(text, new RegExp(`^Metrics Address: ${metricsAddress}$`, 'm'));
    assert.doesNotMatch(text, /[{}]/, 'no JSON in the text form');
    if (TEST_BACKEND === 'overlay') {
      assert.match(text, /^Overlay Mount Options: (index=off|userxattr|, |none)+$/m);
      assert.match(text, /^Pending Deletions: \d+$/m);
      assert.match(text, /^Object Store: (on|off) \(object_store = "(auto|on|off)"\)/m);
      assert.match(text, /^Objects: \d+, /m);
    }
    assert.match(text, new RegExp(`^Backend: ${TEST_BACKEND}$`, 'm'));
    assert.match(text, /^Snapshots: active 1, view 1, committed 1$/m);
    if (TEST_BACKEND === 'thin') assert.match(text, /^Data Space: .* used, .* total, .* available$/m);
  });
});
