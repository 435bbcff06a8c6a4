/**
 * Snapshot API latency of the thin backend against the overlay backend, over
 * the real unix socket, one in-process strata server per backend. Phases
 * alternate between the two so machine noise hits both alike. Prints median
 * and p99 per operation and the ratio of medians (thin / overlay).
 *
 * Thin needs device-mapper: on a host without it the script runs itself again
 * inside the VM (scripts/vm/run.sh), where the CPU is emulated, so absolute
 * times are far slower than on real hardware; the ratio is the useful number.
 *
 *   node dist/scripts/bench/thin.js [--count N]   (N defaults to 200, 60 in the VM)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { strataConfigSchema } from '../../src/config/schema';
import { createLogger } from '../../src/log/logger';
import { PACKAGE_ROOT } from '../../src/package-root';
import { serve, type RunningServer } from '../../src/server/serve';
import { comparisonRows, numberArg, runPhase, type ApiTarget } from './api-phases';
import { printTable } from './stats';

/** Set in the VM's environment (run.sh forwards STRATA_*), so a guest without device-mapper fails instead of recursing. */
const IN_VM = 'STRATA_BENCH_IN_VM';
/** Emulated, a thin call takes 0.5-1 s: 60 keeps boot plus the run under about 4 minutes. */
const COUNT = numberArg('count', IN_VM in process.env ? 60 : 200);
/** Boot, two pools and 5 x COUNT x 2 calls under emulation; the VM is killed past this. */
const VM_TIMEOUT_S = 600;
/** A small loopback pool, as the tests use: sparse files, a base device quick to format under emulation. */
const THIN = { data_size: '2GiB', metadata_size: '64MiB', base_image_size: '64MiB' };

type Backend = 'overlay' | 'thin';

async function startServer(dir: string, backend: Backend): Promise<RunningServer> {
  const settings = strataConfigSchema.parse({ root: path.join(dir, backend), address: path.join(dir, `${backend}.sock`), backend, thin: THIN });
  return serve(settings, createLogger('error'));
}

async function main() {
  const dir = await fs.mkdtemp('/tmp/tbench-');
  const servers: RunningServer[] = [];
  const targets: ApiTarget[] = [];
  try {
    for (const name of ['overlay', 'thin'] as const) {
      servers.push(await startServer(dir, name));
      targets.push({ name, client: new SnapshotsClient(path.join(dir, `${name}.sock`)), samples: new Map() });
    }
    const keys = Array.from({ length: COUNT }, (_, i) => String(i));
    await runPhase(targets, 'Prepare', keys, (c, k) => c.prepare(`base-${k}`));
    await runPhase(targets, 'Commit', keys, (c, k) => c.commit(`layer-${k}`, `base-${k}`));
    await runPhase(targets, 'Prepare with parent', keys, (c, k) => c.prepare(`child-${k}`, `layer-${k}`));
    await runPhase(targets, 'Remove', keys, (c, k) => c.remove(`child-${k}`));
    await runPhase(targets, 'Remove committed', keys, (c, k) => c.remove(`layer-${k}`));

    const [overlay, thin] = targets;
    const rows = comparisonRows(overlay, thin, thin, overlay, 2);
    console.log(`\nthin vs overlay latency, ${COUNT} snapshots per phase (${IN_VM in process.env ? 'emulated VM' : 'this machine'})`);
    printTable(rows);
  } finally {
    for (const target of targets) target.client.close();
    for (const server of servers) await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Runs this script with the same arguments inside the VM, and exits with its exit code. */
function runInVm(): never {
  const runScript = path.join(PACKAGE_ROOT, 'scripts', 'vm', 'run.sh');
  const result = spawnSync(runScript, ['--timeout', String(VM_TIMEOUT_S), '--', process.execPath, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [IN_VM]: '1' },
  });
  if (result.error) throw result.error;
  process.exit(result.status ?? 1);
}

if (!existsSync('/dev/mapper/control')) {
  if (IN_VM in process.env) {
    console.error('no device-mapper in the VM (/dev/mapper/control is missing)');
    process.exit(1);
  }
  runInVm();
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
