import { readFile, stat } from 'node:fs/promises';
import { replaceFile } from '../../fsutil/replace-file';
import type { OverlayFeatures } from './features';

/** What start-up's overlay probes found: overlay works, and why the object store cannot be used, if it cannot. */
export interface ProbeOutcome {
  objectStoreReason?: string;
}

/** What a probe's outcome depends on: the running kernel, the file system under the root, the process's namespace. */
interface ProbeKey {
  bootId: string;
  device: number;
  features: OverlayFeatures;
}

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

async function probeKey(dir: string, features: OverlayFeatures): Promise<ProbeKey> {
  const [bootId, { dev }] = await Promise.all([readFile(BOOT_ID, 'utf8'), stat(dir)]);
  return { bootId: bootId.trim(), device: dev, features };
}

async function readOutcome(file: string, key: ProbeKey): Promise<ProbeOutcome | undefined> {
  try {
    const record = JSON.parse(await readFile(file, 'utf8')) as { key: ProbeKey; outcome: ProbeOutcome };
    return JSON.stringify(record.key) === JSON.stringify(key) ? record.outcome : undefined;
  } catch {
    // Missing, from another version or torn: probe again.
    return undefined;
  }
}

/**
 * Runs `probe` (which mounts overlays under `dir`: four mount and umount
 * runs, 40-60 ms) once per boot of the kernel and file system under `dir`,
 * keeping its outcome in `file`. A restart after a crash, which containerd
 * waits out, then starts without them. A probe that throws is not kept, so
 * a root that cannot serve is probed again at the next start.
 */
export async function probeOncePerBoot(
  file: string,
  dir: string,
  features: OverlayFeatures,
  probe: () => Promise<ProbeOutcome>,
): Promise<ProbeOutcome> {
  const key = await probeKey(dir, features);
  const kept = await readOutcome(file, key);
  if (kept !== undefined) return kept;
  const outcome = await probe();
  // A lost write only costs the next start a probe; no fsync.
  await replaceFile(file, JSON.stringify({ key, outcome })).catch(() => undefined);
  return outcome;
}
