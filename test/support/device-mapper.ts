import { readFileSync } from 'node:fs';

/** How a test skipped for want of device-mapper begins its reason, so a run in the VM can tell none was. */
export const NO_DEVICE_MAPPER = 'no device-mapper in this kernel';

/**
 * Whether this kernel has device-mapper, which registers itself as a misc
 * device once loaded. A /dev/mapper/control node proves nothing: dmsetup
 * makes one wherever it runs, kernel support or not, and a host where it
 * once ran would then run the thin tests and bench instead of sending them
 * to the VM.
 */
export function hasDeviceMapper(): boolean {
  try {
    return /^\s*\d+ device-mapper$/m.test(readFileSync('/proc/misc', 'utf8'));
  } catch {
    return false;
  }
}
