import type { Log } from './auto-grow';
import * as dm from './device-mapper';
import type { DeviceRecord } from './devices';
import type { DeviceLifecycle } from './lifecycle';

/**
 * Brings every recorded device to a settled state at startup, after a crash
 * or a reboot (containerd's ensureDeviceStates, with the removal of what it
 * marks faulty):
 * - a device caught while being created may or may not be in the pool: it is
 *   marked faulty and removed, as are devices caught being removed;
 * - unbound devices (staged by a process that died, or removed with
 *   async_remove) are reclaimed;
 * - devices of snapshots that were, or were becoming, active are activated
 *   (and resumed if a suspend was interrupted); the others are deactivated.
 * A device that cannot be settled is logged and left for the next attempt:
 * a published snapshot's data is never given up here.
 */
export async function reconcile(lifecycle: DeviceLifecycle, baseDeviceId: number | undefined, log: Log): Promise<void> {
  // One listing of the kernel's devices: a restart with every device already
  // as recorded (strata restarted, the host not rebooted) asks nothing more per device.
  const live = await dm.infoAll();
  for (const record of lifecycle.store.all()) {
    try {
      await settle(lifecycle, record, baseDeviceId, live.get(lifecycle.pool.deviceName(record.deviceId)));
    } catch (err) {
      log('could not settle thin device at startup', { deviceId: record.deviceId, state: record.state, error: String(err) });
    }
  }
}

async function settle(lifecycle: DeviceLifecycle, record: DeviceRecord, baseDeviceId: number | undefined, kernel: dm.DeviceInfo | undefined): Promise<void> {
  const { deviceId, state } = record;
  const inactiveAsRecorded = state === 'deactivated' && !kernel;
  if (deviceId === baseDeviceId) {
    if (!inactiveAsRecorded) await lifecycle.deactivateWhenClosed(deviceId);
    return;
  }
  if (state === 'creating') lifecycle.markFaulty(deviceId, 'interrupted while being created');
  if (state === 'creating' || state === 'faulty' || state === 'removing' || state === 'removed' || record.snapshotId === undefined) {
    await lifecycle.reclaim(deviceId);
    return;
  }
  if (inactiveAsRecorded) return;
  const activeAsRecorded = state === 'activated' && kernel && !kernel.suspended && !record.growFs;
  if (activeAsRecorded && dm.hasNode(kernel)) return;
  switch (state) {
    case 'created':
    case 'activating':
    case 'activated':
    case 'suspending':
    case 'suspended':
    case 'resuming':
      // Activating an active device checks its node and resumes it if suspended.
      await lifecycle.activate(deviceId);
      return;
    case 'deactivating':
    case 'deactivated':
      // A committed snapshot may still be mounted somewhere.
      await lifecycle.deactivateWhenClosed(deviceId);
      return;
  }
}
