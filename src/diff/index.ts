/** The differ: containerd's Diff service (apply and create layers) over the changeset library and containerd's content store. */
export { applyToMounts, type ApplyTargetOptions } from './apply-layer';
export { DigestTap } from './digest-tap';
export { Differ, DIFF_LEASE_TTL_MS, type Descriptor, type DiffRequest, type DifferSettings } from './differ';
export { DIFF_PROTO, DIFF_SERVICE, diffService } from './diff-service';
export { LAYER_TAR, LAYER_TAR_GZIP, LAYER_TAR_ZSTD, UNCOMPRESSED_LABEL } from './media-types';
export { FOR_LAYER, withChangeSource, withChanges } from './tree-changes';
