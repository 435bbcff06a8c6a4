/**
 * Where Stat's time goes: the round trip of a call that does nothing (gRPC
 * health Check) against containerd's Go server, strata's grpc-js server and
 * a bare node:http2 server (bare-http2-health.ts), next to Stat against
 * strata and against containerd's overlayfs snapshotter. Same grpc-js client
 * for all; blocks of calls alternate between the servers so machine noise
 * hits them alike. Medians and ratios to containerd's figure for the same call.
 *
 *   node dist/scripts/bench/transport.js [--rounds N]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { HEALTH_PROTO, HEALTH_SERVICE } from '../../src/server/health';
import { loadService } from '../../src/server/proto';
import { startContainerd } from '../../test/support/containerd';
import { spawnStrata } from '../../test/support/strata-process';
import { numberArg } from './args';
import { median, printTable, timeMs } from './stats';

const ROUNDS = numberArg('rounds', 20);
const CALLS_PER_BLOCK = 250;
const ROOT = { 'containerd.io/gc.root': 'bench' };

interface Series {
  name: string;
  call: () => Promise<unknown>;
  samples: number[];
}

const healthClients: grpc.Client[] = [];

function healthCheck(Health: grpc.ServiceClientConstructor, address: string, namespace?: string): () => Promise<unknown> {
  const client = new Health(`unix://${address}`, grpc.credentials.createInsecure());
  healthClients.push(client);
  const metadata = new grpc.Metadata();
  if (namespace) metadata.set('containerd-namespace', namespace);
  return () => new Promise((resolve, reject) => client.Check({ service: '' }, metadata, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
}

async function startBareHttp2(address: string) {
  const child = spawn(process.execPath, [path.join(__dirname, 'bare-http2-health.js'), address], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`bare-http2-health exited with ${code}`)));
  });
  return child;
}

async function main() {
  const dir = await fs.mkdtemp('/tmp/tbench-');
  const containerd = await startContainerd({ dir: path.join(dir, 'c') });
  const strataAddress = path.join(dir, 's.sock');
  const strata = await spawnStrata(['--root', path.join(dir, 'strata'), '--log-level', 'warn'], strataAddress);
  const bare = await startBareHttp2(path.join(dir, 'h.sock'));
  try {
    const strataSnapshots = new SnapshotsClient(strataAddress);
    const containerdSnapshots = new SnapshotsClient(containerd.address, { snapshotter: 'overlayfs', namespace: containerd.namespace });
    for (const client of [strataSnapshots, containerdSnapshots]) {
      await client.prepare('active', '', ROOT);
      await client.commit('layer', 'active', ROOT);
    }
    const Health = loadService(HEALTH_PROTO, HEALTH_SERVICE);
    const series: Series[] = [
      { name: 'health Check, containerd (Go gRPC)', call: healthCheck(Health, containerd.address, containerd.namespace), samples: [] },
      { name: 'health Check, strata (grpc-js)', call: healthCheck(Health, strataAddress), samples: [] },
      { name: 'health Check, bare node:http2', call: healthCheck(Health, path.join(dir, 'h.sock')), samples: [] },
      { name: 'Stat, containerd overlayfs', call: () => containerdSnapshots.stat('layer'), samples: [] },
      { name: 'Stat, strata', call: () => strataSnapshots.stat('layer'), samples: [] },
    ];
    for (const s of series) for (let i = 0; i < 100; i++) await s.call();
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of series) for (let i = 0; i < CALLS_PER_BLOCK; i++) s.samples.push(await timeMs(s.call));
    }
    const healthBase = median(series[0].samples);
    const statBase = median(series[3].samples);
    const rows = [['call', 'median ms', 'ratio to containerd']];
    for (const [i, s] of series.entries()) {
      rows.push([s.name, median(s.samples).toFixed(3), (median(s.samples) / (i < 3 ? healthBase : statBase)).toFixed(2)]);
    }
    console.log(`\nRound trip of a no-op call and of Stat, ${ROUNDS * CALLS_PER_BLOCK} calls each`);
    printTable(rows);
    for (const client of [strataSnapshots, containerdSnapshots, ...healthClients]) client.close();
  } finally {
    bare.kill('SIGTERM');
    strata.child.kill('SIGTERM');
    await strata.exited;
    await containerd.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
