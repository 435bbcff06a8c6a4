/** The tar changeset library: compare trees, write layers, apply layers. */
import type { Tool } from '../exec/tools';
import { COMPRESSION_TOOLS } from './compression';
import { SPECIAL_FILE_TOOLS } from './special-files';

export type { Change, ChangeKind } from './change';
export { compareTrees, sameFile } from './compare';
export { overlayUpperChanges, type OverlayOptions } from './overlay-upper';
export { writeLayer, type WriteLayerOptions, WHITEOUT_PREFIX, OPAQUE_MARKER } from './writer';
export { applyLayer, type ApplyOptions, type ApplyMode, type ApplyResult } from './applier';
export { compressor, type Compression } from './compression';
export type { FileInfo, FileType } from './file-info';
export { LayerFormatError, UnsafeEntryError } from './errors';

/** Every program applying and writing layers may run. */
export const LAYER_TOOLS: Tool[] = [...COMPRESSION_TOOLS, ...SPECIAL_FILE_TOOLS];
