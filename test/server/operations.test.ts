import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fetchStatus } from '../../src/client/status-client';
import * as grpc from '@grpc/grpc-js';
import { HEALTH_PROTO, HEALTH_SERVICE } from '../../src/server/health';
import { loadService } from '../../src/server/proto';
import { codeOf, startTestServer, TEST_BACKEND, type TestServer } from '../support/strata-server';

const METRICS_ADDRESS = `127.0.0.1:${20000 + (process.pid % 20000)}`;

describe(`health and metrics (${TEST_BACKEND})`, () => {
  let t: TestServer;
  let health: grpc.Client;
  before(async () => {
    t = await startTestServer({ metricsAddress: METRICS_ADDRESS });
    const Health = loadService(HEALTH_PROTO, HEALTH_SERVICE);
    health = new Health(`unix://${t.address}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    health?.close();
    await t?.close();
  });

  const check = (service: string) =>
    new Promise<{ status: string }>((resolve, reject) =>
      (health as any).Check({ service }, (err: Error | null, res: { status: string }) => (err ? reject(err) : resolve(res))),
    );

  it('answers the standard gRPC health check on the same socket', async () => {
    assert.equal((await check('')).status, 'SERVING');
    assert.equal((await check('containerd.services.snapshots.v1.Snapshots')).status, 'SERVING');
    await assert.rejects(check('no.such.Service'), (err: { code: number }) => err.code === grpc.status.NOT_FOUND);
  });

  it('exports per-call latency, error counts and snapshot counts to Prometheus', async () => {
    await t.client.prepare('m/1');
    await t.client.prepare('m/2');
    await t.client.view('m/3');
    assert.equal(await codeOf(t.client.stat('missing')), 'NotFound');
    const response = await fetch(`http://${METRICS_ADDRESS}/metrics`);
    assert.equal(response.status, 200);
    const body = await response.text();
    assert.match(body, /strata_grpc_request_duration_seconds_count\{service="snapshots",method="Prepare"\} 2/);
    assert.match(body, /strata_grpc_errors_total\{service="snapshots",method="Stat",code="NOT_FOUND"\} 1/);
    assert.match(body, /strata_snapshots\{kind="active"\} 2/);
    assert.match(body, /strata_snapshots\{kind="view"\} 1/);
    assert.equal((await fetch(`http://${METRICS_ADDRESS}/other`)).status, 404);
    if (TEST_BACKEND === 'thin') {
      const total = /strata_thin_pool_bytes\{area="data",measure="total"\} (\d+)/.exec(body);
      assert.ok(total && Number(total[1]) > 0, 'thin pool data size exported');
      assert.match(body, /strata_thin_pool_bytes\{area="metadata",measure="used"\} \d+/);
    } else {
      const { objectStore } = (await fetchStatus(t.address)).backendStatus as { objectStore: { mode: string } };
      assert.match(body, new RegExp(`^strata_object_store_enabled ${objectStore.mode === 'on' ? 1 : 0}$`, 'm'));
      assert.match(body, /^strata_object_store_contents\{measure="objects"\} \d+$/m);
      assert.match(body, /^strata_object_store_contents\{measure="bytes"\} \d+$/m);
    }
  });
});
