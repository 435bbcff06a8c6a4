import path from 'node:path';
import type { Database } from 'lmdb';
import { failedPrecondition } from '../../snapshots/errors';
import { LoopbackGrower, type Log } from './auto-grow';
import type { ThinConfig } from './config';
import { DeviceStore, type PoolRecord } from './devices';
import { makeFilesystem } from './filesystem';
import { DeviceLifecycle } from './lifecycle';
import { LoopbackFiles } from './loopback';
import { loopbackPoolName, ThinPool } from './pool';
import { reconcile } from './reconcile';
import { ThinBackend } from './thin-backend';

export { thinConfigSchema, type ThinConfig, type ThinConfigInput } from './config';
export { MAX_SIZE_LABEL, ThinBackend, type ThinStatus } from './thin-backend';
export type { DeviceRecord, DeviceState } from './devices';
export { loopbackPoolName } from './pool';
export { thinTools } from './tools';

export interface ThinBackendOptions {
  /** strata's root directory; a loopback pool keeps its files in `<root>/thin/`. */
  root: string;
  config: ThinConfig;
  /** The backend's own sub-database in strata's metadata environment. */
  db: Database;
  log?: Log;
}

/**
 * Opens the thin-pool (creating a loopback one unless `pool_name` names an
 * existing pool), settles devices a crash or reboot left mid-operation, makes
 * the base device on first use, and starts growing a loopback pool as it fills.
 */
export async function createThinBackend(options: ThinBackendOptions): Promise<ThinBackend> {
  const { config } = options;
  const log = options.log ?? (() => {});
  const store = new DeviceStore(options.db);
  const poolName = config.pool_name ?? loopbackPoolName(options.root);
  const files = config.pool_name ? undefined : await LoopbackFiles.attach(path.join(options.root, 'thin'), config.data_size, config.metadata_size);
  const pool = files ? await openLoopbackPool(poolName, files) : await ThinPool.openExisting(poolName);
  const lifecycle = new DeviceLifecycle(pool, store, config.fs_type, config.discard_blocks);

  const recorded = store.pool();
  if (recorded) checkPoolRecord(recorded, poolName, config, log);
  await reconcile(lifecycle, recorded?.baseDeviceId, log);
  const setup = recorded ?? (await createBaseDevice(lifecycle, poolName, config));

  const grower = files && new LoopbackGrower(pool, files, config.min_free_space, log);
  grower?.start();
  return new ThinBackend(lifecycle, config, setup.baseDeviceId, grower, log);
}

async function openLoopbackPool(poolName: string, files: LoopbackFiles): Promise<ThinPool> {
  try {
    return await ThinPool.openLoopback(poolName, files);
  } catch (err) {
    await files.detach().catch(() => undefined);
    throw err;
  }
}

function checkPoolRecord(recorded: PoolRecord, poolName: string, config: ThinConfig, log: Log): void {
  if (recorded.poolName !== poolName) {
    throw failedPrecondition(`this strata root's thin devices live in pool ${recorded.poolName}, but the config names pool ${poolName}`);
  }
  if (recorded.fsType !== config.fs_type) {
    throw failedPrecondition(
      `the thin-pool's base device carries ${recorded.fsType}, but the config asks for fs_type ${config.fs_type}: existing snapshots cannot change file system`,
    );
  }
  if (recorded.baseSize !== config.base_image_size) {
    log('base_image_size differs from the existing base device; the existing size is kept', {
      recorded: recorded.baseSize,
      configured: config.base_image_size,
    });
  }
}

/** The empty, formatted device every snapshot without a parent starts as a snapshot of. */
async function createBaseDevice(lifecycle: DeviceLifecycle, poolName: string, config: ThinConfig): Promise<PoolRecord> {
  const { deviceId } = lifecycle.add({ size: config.base_image_size });
  await lifecycle.create(deviceId);
  await lifecycle.activate(deviceId);
  await makeFilesystem(config.fs_type, lifecycle.pool.devicePath(deviceId), config.fs_options);
  await lifecycle.deactivate(deviceId);
  const record: PoolRecord = { poolName, baseDeviceId: deviceId, baseSize: config.base_image_size, fsType: config.fs_type };
  lifecycle.store.setPool(record);
  return record;
}

