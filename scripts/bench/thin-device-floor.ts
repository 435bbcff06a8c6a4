/**
 * The device-mapper work of strata's thin backend alone, with its own pool
 * code (ThinPool: its ioctls, the node it makes) on an existing pool and
 * nothing else: no gRPC, no metadata store, no free-space check. No snapshot
 * operation that makes or removes a device goes below these. thin.ts runs it
 * in the VM beside snapbench; it prints one JSON object, each step's median
 * in ms.
 *
 *   node dist/scripts/bench/thin-device-floor.js POOL [--count 20]
 */
import { ThinPool } from '../../src/backends/thin/pool';
import { numberArg } from './args';
import { median, timeMs } from './stats';

const COUNT = numberArg('count', 20);
/** As the bench's base device. */
const DEVICE_BYTES = 1024 ** 3;

/** Each step as strata's thin backend takes it. */
export interface DeviceFloor {
  /** A snapshot device of another made and activated (Prepare, with a parent or not, and View): create_snap, then the device created, loaded and resumed. */
  make: number;
  /** A device's mapped bytes (Commit's usage): its status. */
  measure: number;
  /** A device deactivated (Commit; Remove of an active snapshot or view): removed. */
  deactivate: number;
  /** An inactive device deleted from the pool (every Remove): message delete. */
  delete: number;
}

async function main(): Promise<void> {
  const pool = await ThinPool.openExisting(process.argv[2]);
  const base = 1;
  await pool.createThin(base);
  const times: Record<keyof DeviceFloor, number[]> = { make: [], measure: [], deactivate: [], delete: [] };
  for (let i = 0; i < COUNT; i++) {
    const id = base + 1 + i;
    times.make.push(await timeMs(async () => {
      await pool.createSnapshot(id, base, false);
      await pool.activate(id, DEVICE_BYTES);
    }));
    times.measure.push(await timeMs(() => pool.mappedBytes(id)));
    times.deactivate.push(await timeMs(() => pool.deactivate(id)));
    times.delete.push(await timeMs(() => pool.deleteThin(id)));
  }
  await pool.deleteThin(base);
  const floor: DeviceFloor = { make: median(times.make), measure: median(times.measure), deactivate: median(times.deactivate), delete: median(times.delete) };
  console.log(JSON.stringify(floor));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
