/**
 * Snapshot API latency of strata's thin backend against containerd 1.7.24's
 * own devmapper snapshotter behind the same API (refsnap --backend
 * devmapper, on a loopback pool made by the harness's loop-thinpool.sh),
 * both measured by snapbench (containerd's Go proxy client), both with a
 * 1 GiB ext4 base device and Remove deleting the device, alternating, a
 * fresh pool per run.
 *
 * Thin needs device-mapper: on a host without it the script runs itself
 * again inside the VM (scripts/vm/run.sh). The VM's CPU is emulated, which
 * makes every call far slower than on real hardware and magnifies per-call
 * CPU cost; the ratio is the number to read. The floor server
 * (floor-server.ts: grpc-js answering from memory) runs beside them in the
 * same VM, so Stat, Mounts and List, which touch no device, show what any
 * grpc-js server costs there; the device floor (thin-device-floor.ts:
 * strata's own device-mapper steps alone, on a pool of the same kind) shows what
 * the operations that make or remove devices cannot go below.
 *
 *   node dist/scripts/bench/thin.js [--rounds 2] [--count 20]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root';
import { hasDeviceMapper } from '../../test/support/device-mapper';
import { numberArg } from './args';
import { HARNESS, HARNESS_BIN, harnessAvailable, medianMs, snapbench, STRATA_FLOOR, STRATA_SERVE, type SnapbenchResult } from './snapbench';
import { median, printTable } from './stats';
import type { DeviceFloor } from './thin-device-floor';

/** Set in the VM's environment (run.sh forwards STRATA_*), so a guest without device-mapper fails instead of recursing. */
const IN_VM = 'STRATA_BENCH_IN_VM';
const ROUNDS = numberArg('rounds', 2);
/** Emulated, a call that makes or removes a device takes about a second. */
const COUNT = numberArg('count', 20);
/** Boot, then ROUNDS x 2 runs of a few minutes each; the VM is killed past this. */
const VM_TIMEOUT_S = 3600;
/** Pools of both sides live in the VM's RAM-backed /tmp. */
const VM_MEMORY_MIB = '4096';
/** strata under emulation takes 10-45 s to start; the harness waits 20 s by default. */
const START_TIMEOUT = '300s';

const FLAGS = ['-n', String(COUNT), '-concurrency', '4', '-per-worker', '2', '-list-reps', '20', '-warmup', '5'];

/** snapbench's operation, its label, and the device steps it takes (none for those that touch no device). */
const OPERATIONS: Array<[string, string, Array<keyof DeviceFloor>]> = [
  ['prepare', 'Prepare (device made)', ['make']],
  ['prepare_parent', 'Prepare with parent (device made)', ['make']],
  ['view', 'View (device made)', ['make']],
  ['commit', 'Commit', ['measure', 'deactivate']],
  ['remove', 'Remove (active, device deleted)', ['deactivate', 'delete']],
  ['remove_view', 'Remove (view, device deleted)', ['deactivate', 'delete']],
  ['remove_committed', 'Remove (committed, device deleted)', ['delete']],
  ['stat', 'Stat', []],
  ['mounts', 'Mounts', []],
  ['list', `List (${COUNT} snapshots)`, []],
];

function strataThinCommand(dir: string): string {
  const config = path.join(dir, 'strata.toml');
  fs.writeFileSync(config, `[thin]\ndata_size = "8GiB"\nmetadata_size = "256MiB"\nbase_image_size = "1GiB"\n`);
  return `${STRATA_SERVE} --backend thin --config ${config}`;
}

function devmapperCommand(dir: string): string {
  const refsnap = `${HARNESS_BIN}/refsnap --backend devmapper --pool-name {pool} --base-image-size 1GiB --root {root} --address {socket}`;
  return `exec ${HARNESS}/loop-thinpool.sh run ${path.join(dir, 'pool')} -- ${refsnap}`;
}

/** The device floor's steps on a fresh pool of the harness's kind. */
function deviceFloor(dir: string): DeviceFloor {
  const script = path.join(PACKAGE_ROOT, 'dist', 'scripts', 'bench', 'thin-device-floor.js');
  const args = ['run', path.join(dir, 'pool'), '--', process.execPath, script, '{pool}', '--count', String(COUNT)];
  const result = spawnSync(`${HARNESS}/loop-thinpool.sh`, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the device floor failed (${result.status ?? result.signal}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as DeviceFloor;
}

async function main(): Promise<void> {
  const runs = { strata: [] as SnapbenchResult[], containerd: [] as SnapbenchResult[], floor: [] as SnapbenchResult[] };
  const deviceFloors: DeviceFloor[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of ['containerd', 'strata', 'floor', 'device floor'] as const) {
      const dir = fs.mkdtempSync(`/tmp/thin-bench-${side.replace(' ', '-')}-`);
      try {
        const flags = [...FLAGS, '-root', path.join(dir, 'root')];
        const env = { SNAPSHOTTER_START_TIMEOUT: START_TIMEOUT };
        if (side === 'device floor') {
          deviceFloors.push(deviceFloor(dir));
        } else {
          const command = side === 'containerd' ? devmapperCommand(dir) : side === 'strata' ? strataThinCommand(dir) : STRATA_FLOOR;
          runs[side].push(await snapbench(command, flags, env));
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const rows = [[
    'operation', 'strata thin ms', 'containerd devmapper ms', 'floor ms', 'device floor ms',
    'strata/containerd', 'floor/containerd', 'device floor/containerd',
  ]];
  const stepsMs = (floors: DeviceFloor[], steps: Array<keyof DeviceFloor>) => steps.reduce((sum, step) => sum + median(floors.map((f) => f[step])), 0);
  for (const [op, label, steps] of OPERATIONS) {
    const [strata, containerd, floor] = [medianMs(runs.strata, op), medianMs(runs.containerd, op), medianMs(runs.floor, op)];
    const devices = steps.length === 0 ? undefined : stepsMs(deviceFloors, steps);
    rows.push([
      label, strata.toFixed(1), containerd.toFixed(1), floor.toFixed(1), devices?.toFixed(1) ?? '',
      (strata / containerd).toFixed(2), (floor / containerd).toFixed(2), devices === undefined ? '' : (devices / containerd).toFixed(2),
    ]);
  }
  console.log(`\nthin: strata against containerd's devmapper in the emulated VM, ${COUNT} snapshots per phase, ${ROUNDS} alternating rounds`);
  printTable(rows);
}

/** Runs this script with the same arguments inside the VM, and exits with its exit code. */
function runInVm(): never {
  const runScript = path.join(PACKAGE_ROOT, 'scripts', 'vm', 'run.sh');
  const result = spawnSync(runScript, ['--timeout', String(VM_TIMEOUT_S), '--', process.execPath, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [IN_VM]: '1', STRATA_VM_MEMORY: VM_MEMORY_MIB },
  });
  if (result.error) throw result.error;
  process.exit(result.status ?? 1);
}

if (!harnessAvailable()) {
  console.log('thin: skipped, the containerd harness is not built (bash ../shared/harness/build.sh)');
} else {
  if (!hasDeviceMapper()) {
    if (IN_VM in process.env) {
      console.error('no device-mapper in the VM (/proc/misc)');
      process.exit(1);
    }
    runInVm();
  }
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
