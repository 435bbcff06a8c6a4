import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition } from '../../snapshots/errors';
import { requiredFree, type FreeSpace } from './config';
import { runTool } from '../../exec/run-tool';
import * as dm from './device-mapper';
import type { LoopbackFiles } from './loopback';
import { deviceNumber } from './losetup';
import { METADATA_BLOCK_BYTES } from './metadata-limits';

/** Docker's default thin-pool block size: 64 KiB. */
const DATA_BLOCK_SECTORS = 128;
/** The pool raises an event when free data blocks fall below this share; the loopback grower waits for it. */
const LOW_WATER_PERCENT = 20;

/** Below the data low-water mark or `minFree`, or out of data space already. */
export function dataIsLow(space: PoolSpace, minFree: FreeSpace): boolean {
  const free = space.dataTotalBytes - space.dataUsedBytes;
  return (
    free * 100 < space.dataTotalBytes * LOW_WATER_PERCENT ||
    free < requiredFree(space.dataTotalBytes, minFree) ||
    space.mode === 'out_of_data_space'
  );
}

/**
 * Below the low-water share of metadata or `minFree`, or at the point where
 * the kernel raises its own metadata event (dm-thin's
 * calc_metadata_threshold: the smaller of 4 MiB and a quarter): the grower
 * woken by that event must find the pool low, or it would sleep until the
 * pool is out of metadata space.
 */
export function metadataIsLow(space: PoolSpace, minFree: FreeSpace): boolean {
  const free = space.metadataTotalBytes - space.metadataUsedBytes;
  const kernelThreshold = Math.min(4 * 1024 * 1024, space.metadataTotalBytes / 4);
  return (
    free * 100 < space.metadataTotalBytes * LOW_WATER_PERCENT ||
    free < requiredFree(space.metadataTotalBytes, minFree) ||
    free <= kernelThreshold
  );
}

/** A loopback pool in this state should grow before it takes a new device. */
export function isLow(space: PoolSpace, minFree: FreeSpace): boolean {
  return dataIsLow(space, minFree) || metadataIsLow(space, minFree);
}

export interface PoolSpace {
  dataUsedBytes: number;
  dataTotalBytes: number;
  metadataUsedBytes: number;
  metadataTotalBytes: number;
  /** rw, ro, or out_of_data_space. */
  mode: string;
  needsCheck: boolean;
}

/** The name of the loopback pool of a strata root: one per root, so instances on one machine never share one. */
export function loopbackPoolName(root: string): string {
  return `strata-${createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 12)}-pool`;
}

/**
 * One device-mapper thin-pool and the thin devices in it (containerd's
 * PoolDevice without the records): pool messages, activation tables, status.
 */
export class ThinPool {
  private constructor(
    readonly name: string,
    /** "MAJOR:MINOR" of the pool, which thin tables name. */
    private readonly poolDevice: string,
    readonly dataBlockBytes: number,
    /** Set when strata created the pool from sparse files, which it can then grow. */
    readonly loopback: LoopbackFiles | undefined,
  ) {}

  /** Opens an existing thin-pool by name. */
  static async openExisting(name: string): Promise<ThinPool> {
    const info = await dm.info(name);
    if (!info) throw failedPrecondition(`thin-pool ${JSON.stringify(name)} does not exist (device-mapper has no device of that name)`);
    return new ThinPool(name, `${info.major}:${info.minor}`, await dataBlockBytes(name), undefined);
  }

  /** Opens the pool on `files`, creating its device-mapper device if it is not there (first start, or after a reboot). */
  static async openLoopback(name: string, files: LoopbackFiles): Promise<ThinPool> {
    if (!(await dm.info(name))) {
      await dm.create(name, await poolTable(files));
    }
    const info = await dm.info(name);
    if (!info) throw new Error(`thin-pool ${name} vanished right after it was created`);
    return new ThinPool(name, `${info.major}:${info.minor}`, await dataBlockBytes(name), files);
  }

  deviceName(deviceId: number): string {
    return `${this.name}-snap-${deviceId}`;
  }

  devicePath(deviceId: number): string {
    return dm.nodePath(this.deviceName(deviceId));
  }

  async createThin(deviceId: number): Promise<void> {
    await dm.message(this.name, 0, `create_thin ${deviceId}`);
  }

  /**
   * Snapshots `originId`. An active origin is suspended meanwhile, so writes
   * in flight are either wholly in the snapshot or not at all.
   */
  async createSnapshot(deviceId: number, originId: number, originActive: boolean): Promise<void> {
    const origin = this.deviceName(originId);
    if (originActive) await dm.suspend(origin);
    try {
      await dm.message(this.name, 0, `create_snap ${deviceId} ${originId}`);
    } finally {
      if (originActive) await dm.resume(origin);
    }
  }

  /**
   * Deletes an inactive thin device from the pool; `missingOk` tolerates one
   * that never got created. A /dev/mapper node left by a deferred removal,
   * which the kernel carried out without strata, goes too.
   */
  async deleteThin(deviceId: number, options: { missingOk?: boolean } = {}): Promise<void> {
    try {
      await dm.message(this.name, 0, `delete ${deviceId}`);
    } catch (err) {
      if (!(options.missingOk && dm.isNoSuchThin(err))) throw err;
    }
    await rm(this.devicePath(deviceId), { force: true });
  }

  /**
   * Makes /dev/mapper/<name> of a thin device with the given size; an active
   * one is resumed if suspended. `removalPending`: the device was deactivated
   * with a deferred removal and may still be there, open; it is kept.
   */
  async activate(deviceId: number, sizeBytes: number, options: { removalPending?: boolean } = {}): Promise<void> {
    const name = this.deviceName(deviceId);
    // Cancelled first, so the device cannot vanish between the checks below.
    if (options.removalPending) await dm.cancelDeferredRemove(name);
    try {
      await dm.create(name, `0 ${Math.floor(sizeBytes / dm.SECTOR_BYTES)} thin ${this.poolDevice} ${deviceId}`);
    } catch (err) {
      // Creating a name that is taken fails (EBUSY); only then is the device asked about.
      const info = await dm.info(name);
      if (!info) throw err;
      if (info.suspended) await dm.resume(name);
      else dm.ensureNode(info);
    }
  }

  /**
   * Removes the device-mapper device; an inactive one is left as it is. How an
   * open one is treated is `mode`'s (dm.RemoveMode).
   */
  async deactivate(deviceId: number, mode: dm.RemoveMode = 'retry'): Promise<void> {
    try {
      await dm.remove(this.deviceName(deviceId), mode);
    } catch (err) {
      if (!dm.isNoSuchDevice(err)) throw err;
    }
  }

  /** Whether the kernel has the device-mapper device of `deviceId`. */
  async isLoaded(deviceId: number): Promise<boolean> {
    return (await dm.info(this.deviceName(deviceId))) !== undefined;
  }

  async suspend(deviceId: number): Promise<void> {
    await dm.suspend(this.deviceName(deviceId));
  }

  async resume(deviceId: number): Promise<void> {
    await dm.resume(this.deviceName(deviceId));
  }

  /** Bytes of pool data an active thin device maps (its own and those it shares with its origins). */
  async mappedBytes(deviceId: number): Promise<number> {
    return dm.parseThinMappedSectors(await dm.status(this.deviceName(deviceId))) * dm.SECTOR_BYTES;
  }

  /** Gives the pool's blocks back to its backing storage before the device is deleted. */
  async discard(deviceId: number): Promise<void> {
    await runTool('blkdiscard', [this.devicePath(deviceId)]);
  }

  async space(): Promise<PoolSpace> {
    const status = dm.parsePoolStatus(await dm.status(this.name));
    return {
      dataUsedBytes: status.usedDataBlocks * this.dataBlockBytes,
      dataTotalBytes: status.totalDataBlocks * this.dataBlockBytes,
      metadataUsedBytes: status.usedMetadataBlocks * METADATA_BLOCK_BYTES,
      metadataTotalBytes: status.totalMetadataBlocks * METADATA_BLOCK_BYTES,
      mode: status.mode,
      needsCheck: status.needsCheck,
    };
  }

  /** Event counter of the pool, for `waitForEvent`. */
  async eventNumber(): Promise<number> {
    const info = await dm.info(this.name);
    if (!info) throw new Error(`thin-pool ${this.name} is gone`);
    return info.eventNumber;
  }

  waitForEvent(after: number, signal: AbortSignal): Promise<void> {
    return dm.wait(this.name, after, signal);
  }

  /**
   * Docker's ResizePool: the loopback files are already larger and their
   * loop devices see it, so make the pool see it. The reloaded table spans the
   * data file; the kernel takes a larger metadata device on resume (and
   * recomputes its metadata threshold from it). The pool is suspended without
   * flushing: writes queued because it ran out of space cannot be flushed
   * before it has grown, and resume releases them.
   */
  async reloadLoopbackSize(): Promise<void> {
    if (!this.loopback) throw failedPrecondition(`thin-pool ${this.name} was not created by strata: grow it with its own tools`);
    const table = await poolTable(this.loopback);
    await dm.suspend(this.name, { noflush: true });
    try {
      await dm.reload(this.name, table);
    } finally {
      await dm.resume(this.name);
    }
  }
}

/** The thin-pool table over the loop devices, sized to the data file as it is now. */
async function poolTable(files: LoopbackFiles): Promise<string> {
  const blockBytes = DATA_BLOCK_SECTORS * dm.SECTOR_BYTES;
  const blocks = Math.floor((await files.dataBytes()) / blockBytes);
  if (blocks < 1) throw new Error(`loopback data file ${files.dataFile} is smaller than one ${blockBytes}-byte block`);
  const lowWaterBlocks = Math.max(1, Math.floor((blocks * LOW_WATER_PERCENT) / 100));
  const metadata = await deviceNumber(files.metadataDevice);
  const data = await deviceNumber(files.dataDevice);
  // Blocks are zeroed on first write (no skip_block_zeroing, unlike Docker):
  // a new snapshot must never read another snapshot's deleted data.
  return `0 ${blocks * DATA_BLOCK_SECTORS} thin-pool ${metadata} ${data} ${DATA_BLOCK_SECTORS} ${lowWaterBlocks}`;
}

/** The data block size from the pool's table: "0 LEN thin-pool META DATA BLOCK_SECTORS LOW_WATER ...". */
async function dataBlockBytes(name: string): Promise<number> {
  const fields = (await dm.table(name)).split(/\s+/);
  if (fields[2] !== 'thin-pool') throw failedPrecondition(`device-mapper device ${JSON.stringify(name)} is a ${fields[2] ?? 'device without a table'}, not a thin-pool`);
  return Number(fields[5]) * dm.SECTOR_BYTES;
}
