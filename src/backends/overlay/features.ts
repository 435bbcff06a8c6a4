import { access, readFile } from 'node:fs/promises';

/** Optional overlay mount options this kernel and process call for. */
export interface OverlayFeatures {
  /**
   * `index=off`: containerd sets it whenever the kernel knows the option, so
   * a lower dir shared by many mounts does not trip the inode index checks.
   */
  indexOff: boolean;
  /** `userxattr`: inside a user namespace overlay must use user.* xattrs. */
  userxattr: boolean;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** The kernel understands `index=` when overlay exposes that module parameter. */
export function supportsIndexOption(): Promise<boolean> {
  return exists('/sys/module/overlay/parameters/index');
}

/**
 * As containerd's userns.RunningInUserNS, from the first line of
 * /proc/self/uid_map: the initial namespace maps the whole id range
 * ("0 0 4294967295"); an empty map is a user namespace not set up yet; a line
 * that does not parse is taken as the initial namespace.
 */
export function uidMapShowsUserNamespace(uidMap: string): boolean {
  const firstLine = uidMap.split('\n')[0].trim();
  if (firstLine === '') return true;
  const fields = firstLine.split(/\s+/);
  if (fields.length < 3 || !fields.slice(0, 3).every((field) => /^[0-9]+$/.test(field))) return false;
  const [inside, outside, length] = fields.map(Number);
  return !(inside === 0 && outside === 0 && length === 4294967295);
}

export async function runningInUserNamespace(): Promise<boolean> {
  let uidMap: string;
  try {
    uidMap = await readFile('/proc/self/uid_map', 'utf8');
  } catch {
    // Without the file the kernel has no user namespaces.
    return false;
  }
  return uidMapShowsUserNamespace(uidMap);
}

export async function detectOverlayFeatures(): Promise<OverlayFeatures> {
  const [indexOff, userxattr] = await Promise.all([supportsIndexOption(), runningInUserNamespace()]);
  return { indexOff, userxattr };
}
