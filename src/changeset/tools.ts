import type { Tool } from '../exec/tools';
import { COMPRESSION_TOOLS } from './compression';
import { SPECIAL_FILE_TOOLS } from './special-files';

/** Every program applying and writing layers may run; apart from the library so a server can check for them without loading it. */
export const LAYER_TOOLS: Tool[] = [...COMPRESSION_TOOLS, ...SPECIAL_FILE_TOOLS];
