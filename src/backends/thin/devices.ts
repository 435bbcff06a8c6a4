import type { Database } from 'lmdb';
import type { FsType } from './filesystem';

/**
 * Where a thin device is in its life. A state ending in -ing is written before
 * the device-mapper operation starts, so a crash leaves a record that says
 * what was under way; `reconcile` finishes it or gives up on the device.
 */
export type DeviceState =
  | 'creating'
  /** Written by earlier releases between creating and activating; still read in their records. */
  | 'created'
  | 'activating'
  | 'activated'
  | 'suspending'
  | 'suspended'
  | 'resuming'
  | 'deactivating'
  | 'deactivated'
  | 'removing'
  | 'removed'
  | 'faulty';

export const DEVICE_STATES: readonly DeviceState[] = [
  'creating',
  'created',
  'activating',
  'activated',
  'suspending',
  'suspended',
  'resuming',
  'deactivating',
  'deactivated',
  'removing',
  'removed',
  'faulty',
];

export interface DeviceRecord {
  /** The thin device id inside the pool. */
  deviceId: number;
  /** Virtual size in bytes: the length of its thin table. */
  size: number;
  /** The device it is a snapshot of. */
  originId?: number;
  /** The snapshot id it was published under; unset while staged, and after removal. */
  snapshotId?: string;
  state: DeviceState;
  /** Its file system must be grown to `size` once it is active. */
  growFs?: boolean;
  /**
   * Deactivated with a deferred removal: the kernel device lives on while
   * something holds it open (a committed snapshot left mounted).
   */
  removalPending?: boolean;
  /** The last operation's failure, kept for `status` and the logs. */
  error?: string;
}

/** What the pool was set up with; checked against the config on every start. */
export interface PoolRecord {
  poolName: string;
  baseDeviceId: number;
  baseSize: number;
  fsType: FsType;
}

/** dm-thin device ids are 24 bits wide. */
export const MAX_DEVICE_ID = 2 ** 24 - 1;

const POOL_KEY = 'pool';
const NEXT_ID_KEY = 'next-device-id';
const DEVICE_PREFIX = 'device/';
const SNAPSHOT_PREFIX = 'snapshot/';

const deviceKey = (deviceId: number) => `${DEVICE_PREFIX}${String(deviceId).padStart(8, '0')}`;
const snapshotKey = (snapshotId: string) => `${SNAPSHOT_PREFIX}${snapshotId}`;

/**
 * The thin backend's records in its LMDB sub-database: one per device, an
 * index from snapshot id to device, the device-id counter and the pool's
 * setup. Each method is one synchronous write; called inside a caller's
 * transaction (publish) it commits or rolls back with it.
 */
export class DeviceStore {
  constructor(private readonly db: Database) {}

  pool(): PoolRecord | undefined {
    return this.db.get(POOL_KEY);
  }

  setPool(record: PoolRecord): void {
    this.db.putSync(POOL_KEY, record);
  }

  /** Reserves a free device id and records a device in state "creating" under it. */
  add(fields: Omit<DeviceRecord, 'deviceId' | 'state' | 'snapshotId'>): DeviceRecord {
    return this.db.transactionSync(() => {
      const deviceId = this.nextFreeId();
      const record: DeviceRecord = { ...fields, deviceId, state: 'creating' };
      this.db.putSync(deviceKey(deviceId), record);
      return record;
    });
  }

  get(deviceId: number): DeviceRecord | undefined {
    return this.db.get(deviceKey(deviceId));
  }

  bySnapshot(snapshotId: string): DeviceRecord | undefined {
    const deviceId: number | undefined = this.db.get(snapshotKey(snapshotId));
    return deviceId === undefined ? undefined : this.get(deviceId);
  }

  update(deviceId: number, changes: Partial<Omit<DeviceRecord, 'deviceId'>>): DeviceRecord {
    return this.db.transactionSync(() => {
      const current = this.get(deviceId);
      if (!current) throw new Error(`thin device ${deviceId} has no record`);
      const updated = { ...current, ...changes };
      this.db.putSync(deviceKey(deviceId), updated);
      return updated;
    });
  }

  /** Binds a staged device to its snapshot id. */
  bind(deviceId: number, snapshotId: string): void {
    this.update(deviceId, { snapshotId });
    this.db.putSync(snapshotKey(snapshotId), deviceId);
  }

  /** Forgets the snapshot a device belonged to: from now on it is storage to reclaim. */
  unbind(deviceId: number): void {
    this.db.transactionSync(() => {
      const record = this.get(deviceId);
      if (record?.snapshotId === undefined) return;
      this.db.removeSync(snapshotKey(record.snapshotId));
      const unbound = { ...record };
      delete unbound.snapshotId;
      this.db.putSync(deviceKey(deviceId), unbound);
    });
  }

  delete(deviceId: number): void {
    this.db.transactionSync(() => {
      const record = this.get(deviceId);
      if (record?.snapshotId !== undefined) this.db.removeSync(snapshotKey(record.snapshotId));
      this.db.removeSync(deviceKey(deviceId));
    });
  }

  /** All device records in device-id order, read from one consistent snapshot. */
  all(): DeviceRecord[] {
    return Array.from(this.db.getRange({ start: DEVICE_PREFIX, end: `${DEVICE_PREFIX}\uffff` }), ({ value }) => value as DeviceRecord);
  }

  /** Ids grow until they wrap at the 24-bit limit, then skip those still in use. */
  private nextFreeId(): number {
    let candidate: number = this.db.get(NEXT_ID_KEY) ?? 1;
    for (let tried = 0; tried < MAX_DEVICE_ID; tried++) {
      if (candidate > MAX_DEVICE_ID) candidate = 1;
      if (this.get(candidate) === undefined) {
        this.db.putSync(NEXT_ID_KEY, candidate + 1);
        return candidate;
      }
      candidate++;
    }
    throw new Error('no free thin device id left in the pool');
  }
}
