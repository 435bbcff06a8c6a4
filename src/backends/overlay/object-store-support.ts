import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mountAll, unmount } from '../../mount';
import { objectName } from '../../objects/names';
import { createStub } from '../../objects/object-files';
import type { OverlayFeatures } from './features';

const PROBE_CONTENT = 'strata object store probe\n';
const PROBE_OBJECT = objectName(createHash('sha256').update(PROBE_CONTENT).digest());

/** The options that make overlayfs follow stubs into a data-only layer. */
export const OBJECT_STORE_MOUNT_OPTIONS = ['metacopy=on', 'redirect_dir=on'];

/**
 * Whether this kernel reads a stub through a data-only lower layer (Linux
 * 6.5+), found the way containers/storage's supportsDataOnlyLayers does: by
 * mounting one, as strata's own mounts will be, under `dir`. Returns why not,
 * or undefined when it works.
 */
export async function objectStoreUnsupportedReason(dir: string, features: OverlayFeatures): Promise<string | undefined> {
  // trusted.overlay.* stubs need the initial user namespace.
  if (features.userxattr) return 'overlayfs runs with userxattr in a user namespace, where trusted.* stubs cannot be written';
  const scratch = await mkdtemp(path.join(dir, 'check-objects-'));
  try {
    const [lower, data, merged] = ['lower', 'data', 'merged'].map((name) => path.join(scratch, name));
    await Promise.all([lower, merged, path.join(data, path.dirname(PROBE_OBJECT))].map((d) => mkdir(d, { recursive: true })));
    await writeFile(path.join(data, PROBE_OBJECT), PROBE_CONTENT);
    createStub(path.join(lower, 'probe'), PROBE_OBJECT, {
      size: PROBE_CONTENT.length, mode: 0o644, uid: 0, gid: 0, atimeSeconds: 0, mtimeSeconds: 0, chmod: false,
    });
    const options = [...(features.indexOff ? ['index=off'] : []), `lowerdir=${lower}::${data}`, ...OBJECT_STORE_MOUNT_OPTIONS];
    try {
      await mountAll([{ type: 'overlay', source: 'overlay', options }], merged);
    } catch (err) {
      return `overlayfs refused a data-only lower layer (Linux 6.5 or later is needed): ${(err as Error).message}`;
    }
    try {
      const content = await readFile(path.join(merged, 'probe'), 'utf8');
      if (content !== PROBE_CONTENT) return 'overlayfs mounted a data-only lower layer but did not read a stub through it';
    } catch (err) {
      return `overlayfs mounted a data-only lower layer but could not read a stub through it: ${(err as Error).message}`;
    } finally {
      await unmount(merged);
    }
    return undefined;
  } catch (err) {
    return `the object store probe failed: ${(err as Error).message}`;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
