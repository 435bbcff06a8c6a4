/** Thin-pool metadata as the kernel lays it out: 4 KiB blocks, up to a fixed count. */
export const METADATA_BLOCK_BYTES = 4096;

/**
 * The most metadata a thin-pool can address (the kernel's
 * DM_SM_METADATA_MAX_BLOCKS, 255 * (2^14 - 64) blocks, about 15.9 GiB): a
 * larger metadata device is used only up to this.
 */
export const MAX_METADATA_BYTES = 255 * (2 ** 14 - 64) * METADATA_BLOCK_BYTES;
