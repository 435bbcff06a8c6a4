/** The tar changeset library: compare trees, write layers, apply layers. */
export type { Change, ChangeKind } from './change';
export { compareTrees, sameFile } from './compare';
export { sourceChanges, UNTOLD, type ChangeSource } from './change-source';
export { withLayerInThread } from './threaded-layer';
export { overlayUpperChanges, type OverlayOptions } from './overlay-upper';
export { writeLayer, type WriteLayerOptions, WHITEOUT_PREFIX, OPAQUE_MARKER } from './writer';
export { applyLayer, type ApplyOptions, type ApplyMode, type ApplyResult } from './applier';
export { compressor, type Compression } from './compression';
export type { FileInfo, FileType } from './file-info';
export { LayerFormatError, UnsafeEntryError } from './errors';
export { LAYER_TOOLS } from './tools';
