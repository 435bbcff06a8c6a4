import type { Compression } from '../changeset';
import { unimplemented } from '../snapshots/errors';

/** What Apply returns and Diff writes by default: OCI layer media types. */
export const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const LAYER_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const LAYER_TAR_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

/** The label containerd reads a compressed layer's DiffID from. */
export const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed';

/**
 * Layers strata applies (compression is recognised from the bytes).
 * Anything else, encrypted layers for instance, is left to the next differ.
 */
const APPLICABLE = new Set([
  LAYER_TAR,
  LAYER_TAR_GZIP,
  LAYER_TAR_ZSTD,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

/** Throws Unimplemented (containerd then tries its next differ) for a layer strata does not apply. */
export function requireApplicable(mediaType: string): void {
  if (!APPLICABLE.has(mediaType)) throw unimplemented(`strata does not apply layers of media type ${JSON.stringify(mediaType)}`);
}

/** The media types Diff can write, as containerd's walking differ. */
const OUTPUT: Record<string, Compression> = {
  [LAYER_TAR]: 'none',
  [LAYER_TAR_GZIP]: 'gzip',
  [LAYER_TAR_ZSTD]: 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
};

export function outputCompression(mediaType: string): Compression {
  const compression = OUTPUT[mediaType];
  if (compression === undefined) throw unimplemented(`strata does not write diffs of media type ${JSON.stringify(mediaType)}`);
  return compression;
}
