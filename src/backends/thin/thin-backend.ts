import type { Backend, CommittedStorage, NewSnapshot, StagedStorage } from '../../snapshots/backend';
import { failedPrecondition, invalidArgument, notFound, resourceExhausted } from '../../snapshots/errors';
import { RwLock } from '../../snapshots/rw-lock';
import type { Labels, Mount, SnapshotRef, Usage } from '../../snapshots/types';
import type { Growth, Log, LoopbackGrower } from './auto-grow';
import { requiredFree, type FreeSpace, type ThinConfig } from './config';
import { DEVICE_STATES, type DeviceRecord, type DeviceState, type DeviceStore } from './devices';
import { baseMountOptions } from './filesystem';
import type { DeviceLifecycle } from './lifecycle';
import { isLow, type PoolSpace, type ThinPool } from './pool';
import { humanBytes } from '../../bytes';

/** A snapshot label asking for a device (and file system) larger than its parent's, in bytes. */
export const MAX_SIZE_LABEL = 'containerd.io/snapshot/max-size';

/** What `strata status` prints about the thin backend: Docker's DeviceSet.Status. */
export interface ThinStatus {
  poolName: string;
  /** The sparse files behind a pool strata created itself. */
  loopback?: { dataFile: string; metadataFile: string; dataDevice: string; metadataDevice: string };
  dataUsedBytes: number;
  dataTotalBytes: number;
  metadataUsedBytes: number;
  metadataTotalBytes: number;
  dataBlockBytes: number;
  /** The pool's mode: rw, ro or out_of_data_space. */
  mode: string;
  baseDeviceSize: number;
  fsType: ThinConfig['fs_type'];
  minFreeSpace: FreeSpace;
  devicesByState: Record<DeviceState, number>;
  /** Devices of removed snapshots that `cleanup` will reclaim. */
  deferredRemovals: number;
}

class StagedDevice implements StagedStorage {
  readonly backend = 'thin';
  constructor(readonly deviceId: number) {}
}

/**
 * containerd's snapshot model on a device-mapper thin-pool. Every snapshot is
 * a thin device: a snapshot (create_snap) of its parent's device, or of the
 * base device formatted at pool setup. Active snapshots and views are active
 * devices; committed ones are inactive, and children snapshot them as they are.
 */
export class ThinBackend implements Backend {
  readonly name = 'thin';
  /** Device-mapper changes, one at a time: create_snap must see its origin settled. */
  private readonly lock = new RwLock();
  /** Staged devices not published yet: cleanup must not take them for debris. */
  private readonly staged = new Set<number>();
  private readonly pool: ThinPool;
  private readonly devices: DeviceStore;

  constructor(
    private readonly lifecycle: DeviceLifecycle,
    private readonly config: ThinConfig,
    private readonly baseDeviceId: number,
    private readonly grower: LoopbackGrower | undefined,
    private readonly log: Log,
  ) {
    this.pool = lifecycle.pool;
    this.devices = lifecycle.store;
  }

  stage(snapshot: NewSnapshot): Promise<StagedStorage> {
    return this.lock.exclusive(async () => {
      const origin = snapshot.parentIds.length > 0 ? this.deviceOf(snapshot.parentIds[0]) : this.lifecycle.get(this.baseDeviceId);
      const size = requestedSize(snapshot.labels, origin.size);
      const { deviceId } = this.lifecycle.add({ size, originId: origin.deviceId, growFs: size > origin.size });
      this.staged.add(deviceId);
      try {
        // The pool's status (which commits the pool's metadata first) is read
        // while the device is made, which saves its wait; a pool found too full refuses the
        // device after all, and the device is reclaimed as a failed creation is.
        const [space, created] = await Promise.allSettled([this.pool.space(), this.lifecycle.create(deviceId)]);
        if (space.status === 'rejected') throw space.reason;
        await this.ensureSpace(space.value);
        if (created.status === 'rejected') throw created.reason;
        await this.lifecycle.activate(deviceId);
        return new StagedDevice(deviceId);
      } catch (err) {
        this.staged.delete(deviceId);
        await this.lifecycle.reclaim(deviceId).catch((cleanupErr) =>
          this.log('could not remove a thin device whose creation failed', { deviceId, error: String(cleanupErr) }),
        );
        throw err;
      }
    });
  }

  publish(staged: StagedStorage, id: string): void {
    const deviceId = this.unpublished(staged);
    this.devices.bind(deviceId, id);
    this.staged.delete(deviceId);
  }

  discard(staged: StagedStorage): Promise<void> {
    const deviceId = this.unpublished(staged);
    return this.lock.exclusive(async () => {
      this.staged.delete(deviceId);
      await this.lifecycle.reclaim(deviceId);
    });
  }

  async mounts(ref: SnapshotRef): Promise<Mount[]> {
    if (ref.kind === 'committed') throw failedPrecondition(`snapshot ${ref.id} is committed: it has no mounts`);
    const record = await this.activeDevice(ref.id);
    const options = baseMountOptions(this.config.fs_type);
    // An explicit "rw" keeps `ctr snapshot mounts` output runnable: it prints "-o" even for an empty list.
    options.push(ref.kind === 'view' ? 'ro' : 'rw');
    return [{ type: this.config.fs_type, source: this.pool.devicePath(record.deviceId), options }];
  }

  async commit(ref: SnapshotRef): Promise<CommittedStorage> {
    if (ref.kind !== 'active') throw failedPrecondition(`snapshot ${ref.id} is a ${ref.kind}: only active snapshots are committed`);
    return this.lock.exclusive(async () => {
      const record = await this.activateIfNeeded(ref.id);
      const usage = await this.measure(record.deviceId);
      // The caller may unmount only after Commit, as containerd's suite does.
      await this.lifecycle.deactivateWhenClosed(record.deviceId);
      return { usage };
    });
  }

  async usage(ref: SnapshotRef): Promise<Usage> {
    return this.measure((await this.activeDevice(ref.id)).deviceId);
  }

  remove(id: string): Promise<void> {
    return this.lock.exclusive(async () => {
      const record = this.deviceOf(id);
      // Unbound, the device is storage of no snapshot: reclaimed now, or by cleanup with async_remove.
      this.devices.unbind(record.deviceId);
      if (!this.config.async_remove) await this.lifecycle.reclaim(record.deviceId);
    });
  }

  cleanup(live: ReadonlySet<string>): Promise<string[]> {
    return this.lock.exclusive(async () => {
      const reclaimed: string[] = [];
      for (const record of this.devices.all()) {
        if (!this.isReclaimable(record, live)) continue;
        await this.lifecycle.reclaim(record.deviceId);
        reclaimed.push(record.snapshotId ?? this.pool.deviceName(record.deviceId));
      }
      return reclaimed;
    });
  }

  async status(): Promise<ThinStatus> {
    const space = await this.pool.space();
    const devicesByState = Object.fromEntries(DEVICE_STATES.map((state) => [state, 0])) as Record<DeviceState, number>;
    let deferredRemovals = 0;
    for (const record of this.devices.all()) {
      devicesByState[record.state]++;
      if (this.isReclaimable(record, undefined)) deferredRemovals++;
    }
    const loopback = this.pool.loopback;
    return {
      poolName: this.pool.name,
      loopback: loopback && {
        dataFile: loopback.dataFile,
        metadataFile: loopback.metadataFile,
        dataDevice: loopback.dataDevice,
        metadataDevice: loopback.metadataDevice,
      },
      dataUsedBytes: space.dataUsedBytes,
      dataTotalBytes: space.dataTotalBytes,
      metadataUsedBytes: space.metadataUsedBytes,
      metadataTotalBytes: space.metadataTotalBytes,
      dataBlockBytes: this.pool.dataBlockBytes,
      mode: space.mode,
      baseDeviceSize: this.lifecycle.get(this.baseDeviceId).size,
      fsType: this.config.fs_type,
      minFreeSpace: this.config.min_free_space,
      devicesByState,
      deferredRemovals,
    };
  }

  /** Stops the growth watcher once running work is done. Devices stay active: containers may use their mounts. */
  async close(): Promise<void> {
    await this.lock.exclusive(async () => undefined);
    await this.grower?.stop();
  }

  /**
   * A device no snapshot needs: unbound (removed, or staged by a process that
   * died), bound to an id not in `live`, or given up on. Without `live`, only
   * the first and last count.
   */
  private isReclaimable(record: DeviceRecord, live: ReadonlySet<string> | undefined): boolean {
    if (record.deviceId === this.baseDeviceId || this.staged.has(record.deviceId)) return false;
    if (record.state === 'faulty' || record.state === 'removing' || record.state === 'removed') return true;
    if (record.snapshotId === undefined) return true;
    return live !== undefined && !live.has(record.snapshotId);
  }

  private async measure(deviceId: number): Promise<Usage> {
    // Pool blocks the device maps, shared ones included; like containerd's
    // devmapper, no inode count: that would need the file system read.
    return { size: await this.pool.mappedBytes(deviceId), inodes: 0 };
  }

  /**
   * The device of a snapshot, active; taking the lock only when it must be
   * activated. The record is trusted: only the lifecycle changes devices, and
   * reconcile made records and devices agree at startup.
   */
  private async activeDevice(snapshotId: string): Promise<DeviceRecord> {
    const record = this.deviceOf(snapshotId);
    if (record.state === 'activated') return record;
    return this.lock.exclusive(() => this.activateIfNeeded(snapshotId));
  }

  private async activateIfNeeded(snapshotId: string): Promise<DeviceRecord> {
    const record = this.deviceOf(snapshotId);
    if (record.state !== 'activated') await this.lifecycle.activate(record.deviceId);
    return this.lifecycle.get(record.deviceId);
  }

  /** Grows a loopback pool that is filling, then refuses a new device if the pool is still too full. */
  private async ensureSpace(space: PoolSpace): Promise<void> {
    let blocked: Growth['blocked'] = {};
    if (this.grower && (isLow(space, this.config.min_free_space) || space.mode !== 'rw')) {
      const growth = await this.grower.growIfLow();
      if (growth.grew) space = await this.pool.space();
      blocked = growth.blocked;
    }
    if (space.mode !== 'rw') {
      // Out of metadata space, the kernel reports the pool read-only.
      const outOfMetadata = space.mode === 'ro' && space.metadataUsedBytes >= space.metadataTotalBytes ? ' (out of metadata space)' : '';
      const why = [blocked.data, blocked.metadata].filter((reason) => reason !== undefined).map((reason) => `; ${reason}`).join('');
      throw resourceExhausted(`thin-pool ${this.pool.name} is in mode ${space.mode}${outOfMetadata}${why}: no new devices until it is repaired or grown`);
    }
    const minimum = this.config.min_free_space;
    checkFree(this.pool.name, 'data', space.dataTotalBytes - space.dataUsedBytes, space.dataTotalBytes, minimum, blocked.data);
    checkFree(this.pool.name, 'metadata', space.metadataTotalBytes - space.metadataUsedBytes, space.metadataTotalBytes, minimum, blocked.metadata);
  }

  private deviceOf(snapshotId: string): DeviceRecord {
    const record = this.devices.bySnapshot(snapshotId);
    if (!record) throw notFound(`snapshot ${snapshotId} has no thin device`);
    return record;
  }

  private unpublished(staged: StagedStorage): number {
    if (!(staged instanceof StagedDevice) || !this.staged.has(staged.deviceId)) {
      throw invalidArgument('storage was not staged by this thin backend, or was published or discarded already');
    }
    return staged.deviceId;
  }
}

/** The device size a new snapshot gets: its origin's, or larger if the max-size label asks. */
function requestedSize(labels: Labels, originSize: number): number {
  const value = labels[MAX_SIZE_LABEL];
  if (value === undefined) return originSize;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalidArgument(`label ${MAX_SIZE_LABEL} must be a size in bytes, got ${JSON.stringify(value)}`);
  }
  const requested = Number(value);
  if (requested < originSize) {
    throw invalidArgument(
      `label ${MAX_SIZE_LABEL} asks for ${requested} bytes, less than the parent's device (${originSize} bytes): a device cannot shrink`,
    );
  }
  // Whole 4 KiB file-system blocks (device-mapper counts 512-byte sectors).
  return Math.ceil(requested / 4096) * 4096;
}

/** Refuses a new device when `what` has less free than min_free_space; `blocked` says why it could not grow. */
function checkFree(poolName: string, what: 'data' | 'metadata', free: number, total: number, minimum: FreeSpace, blocked: string | undefined): void {
  if (free >= requiredFree(total, minimum)) return;
  const wanted = 'percent' in minimum ? `${minimum.percent}%` : humanBytes(minimum.bytes);
  throw resourceExhausted(
    `thin-pool ${poolName} has ${humanBytes(free)} of ${humanBytes(total)} ${what} space free, less than min_free_space (${wanted})` +
      `${blocked ? `, and ${blocked}` : ''}: remove snapshots or grow the pool before creating more`,
  );
}
