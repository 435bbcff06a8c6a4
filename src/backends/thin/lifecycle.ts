import { notFound } from '../../snapshots/errors';
import type { DeviceRecord, DeviceState, DeviceStore } from './devices';
import { isBusy } from './device-mapper';
import { growFilesystem, type FsType } from './filesystem';
import type { ThinPool } from './pool';

/**
 * Thin devices through their recorded states (containerd's PoolDevice): each
 * device-mapper operation is bracketed by a state written before it starts
 * and one written when it is done, so a crash leaves a record of what was
 * under way. Callers serialise the calls.
 */
export class DeviceLifecycle {
  constructor(
    readonly pool: ThinPool,
    readonly store: DeviceStore,
    private readonly fsType: FsType,
    private readonly discardBlocks: boolean,
  ) {}

  get(deviceId: number): DeviceRecord {
    const record = this.store.get(deviceId);
    if (!record) throw notFound(`thin device ${deviceId} has no record`);
    return record;
  }

  /** Records a new device in state "creating": a snapshot of `originId`, or an empty device without one. */
  add(fields: { size: number; originId?: number; growFs?: boolean }): DeviceRecord {
    return this.store.add(fields);
  }

  /**
   * Makes a device recorded by `add` in the pool. Its record stays
   * "creating" until `activate` records it active. Until a snapshot is bound
   * to it, reconcile reclaims a device whatever its state, one never made
   * included, so the states between ("created", "activating") would each
   * cost a durable write and tell it nothing.
   */
  async create(deviceId: number): Promise<void> {
    const { originId, state } = this.get(deviceId);
    if (state !== 'creating') throw new Error(`thin device ${deviceId} is ${state}: only a device just added is created`);
    const originActive = originId !== undefined && (await this.isActive(originId));
    await this.recordingFailure(deviceId, () =>
      originId === undefined ? this.pool.createThin(deviceId) : this.pool.createSnapshot(deviceId, originId, originActive),
    );
  }

  /**
   * Activates a device (again) and, the first time, grows its file system to
   * the device's size. A device just created goes from "creating" to
   * "activated" in one write (see `create`).
   */
  async activate(deviceId: number): Promise<void> {
    const record = this.get(deviceId);
    const activate = () => this.pool.activate(deviceId, record.size, { removalPending: record.removalPending });
    if (record.state === 'creating') {
      await this.recordingFailure(deviceId, activate);
      this.store.update(deviceId, { state: 'activated', error: undefined });
    } else {
      await this.transition(deviceId, 'activating', 'activated', activate);
    }
    if (record.growFs) {
      await growFilesystem(this.fsType, this.pool.devicePath(deviceId));
      this.store.update(deviceId, { growFs: false });
    }
  }

  /** Deactivates a device, waiting a while for one that is briefly held open. */
  async deactivate(deviceId: number): Promise<void> {
    await this.transition(deviceId, 'deactivating', 'deactivated', () => this.pool.deactivate(deviceId));
  }

  /**
   * Deactivates a device that may stay open, as containerd's Commit does: a
   * committed snapshot may still be mounted. An open device is flushed
   * (suspend and resume write out what is in flight, containerd issue 4234)
   * and removed by the kernel when its last user closes it. A closed one,
   * the usual case, is removed at once: nothing is in flight on it.
   */
  async deactivateWhenClosed(deviceId: number): Promise<void> {
    try {
      await this.transition(deviceId, 'deactivating', 'deactivated', () => this.pool.deactivate(deviceId, 'once'));
      return;
    } catch (err) {
      if (!isBusy(err)) throw err;
    }
    await this.transition(deviceId, 'suspending', 'suspended', () => this.pool.suspend(deviceId));
    await this.transition(deviceId, 'resuming', 'activated', () => this.pool.resume(deviceId));
    await this.transition(deviceId, 'deactivating', 'deactivated', () => this.pool.deactivate(deviceId, 'deferred'), { removalPending: true });
  }

  /** Deactivates a device, discards its blocks if configured, deletes it from the pool and forgets it. */
  async reclaim(deviceId: number): Promise<void> {
    const record = this.get(deviceId);
    // Only a device that settled after creation is surely in the pool; the
    // others may never have been created or may be half removed already.
    const present = record.state !== 'creating' && record.state !== 'faulty' && record.state !== 'removing' && record.state !== 'removed';
    const discard = this.discardBlocks && present;
    // Only a device recorded inactive is surely not active: for the others, the kernel is asked.
    const inactive = (record.state === 'created' || record.state === 'deactivated') && !record.removalPending;
    await this.transition(deviceId, 'removing', 'removed', async () => {
      if (discard) {
        await this.pool.activate(deviceId, record.size);
        await this.pool.discard(deviceId);
      }
      if (discard || !inactive) await this.pool.deactivate(deviceId);
      await this.pool.deleteThin(deviceId, { missingOk: !present });
    });
    this.store.delete(deviceId);
  }

  /** Gives up on a device whose state cannot be trusted; `reclaim` removes it. */
  markFaulty(deviceId: number, reason: string): void {
    this.store.update(deviceId, { state: 'faulty', error: reason });
  }

  /**
   * Whether the kernel has the device active. Only the lifecycle activates
   * devices, so the record tells, but for a deferred removal that may not
   * have happened yet.
   */
  private async isActive(deviceId: number): Promise<boolean> {
    const record = this.get(deviceId);
    if (record.state === 'activated') return true;
    return record.removalPending === true && (await this.pool.isLoaded(deviceId));
  }

  /**
   * Runs one device-mapper operation between two recorded states; `settled`
   * is recorded with the final state. On failure the device keeps the "-ing"
   * state, with the error, for `reconcile`.
   */
  private async transition(
    deviceId: number,
    trying: DeviceState,
    done: DeviceState,
    operation: () => Promise<void>,
    settled: Partial<DeviceRecord> = {},
  ): Promise<void> {
    this.store.update(deviceId, { state: trying });
    await this.recordingFailure(deviceId, operation);
    this.store.update(deviceId, { state: done, error: undefined, removalPending: undefined, ...settled });
  }

  /** Runs `operation`; its failure is kept in the device's record, for `status` and the logs. */
  private async recordingFailure(deviceId: number, operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (err) {
      this.store.update(deviceId, { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }
}
