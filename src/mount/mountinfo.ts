import { readFile, realpath } from 'node:fs/promises';

export interface MountInfoEntry {
  mountPoint: string;
  /** Per-mount options (field 6 of mountinfo), e.g. ['ro', 'relatime']. */
  mountOptions: string[];
  fsType: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount table of this process's mount namespace, in mount order. */
export async function readMountInfo(): Promise<MountInfoEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    entries.push({
      mountPoint: unescapeOctal(fields[4]),
      mountOptions: fields[5].split(','),
      fsType: fields[separator + 1],
    });
  }
  return entries;
}

/**
 * The mount visible at `target` (the last one stacked there), or undefined.
 * A target that does not exist has no mount.
 */
export async function topMountAt(target: string): Promise<MountInfoEntry | undefined> {
  let canonical: string;
  try {
    // mountinfo shows canonical paths.
    canonical = await realpath(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const entries = await readMountInfo();
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i].mountPoint === canonical) return entries[i];
  }
  return undefined;
}

export async function isMountPoint(target: string): Promise<boolean> {
  return (await topMountAt(target)) !== undefined;
}
