import { z } from 'zod';
import { parseSize } from '../../bytes';
import { MAX_METADATA_BYTES } from './metadata-limits';

/** A size in bytes given as a number or a string like "10GB" / "512MiB". */
const size = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size like "10GB", "512MiB" or a number of bytes, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return bytes;
});

/** A threshold: a percentage of the pool ("10%") or an absolute size. */
export type FreeSpace = { percent: number } | { bytes: number };

/** The bytes `minimum` asks to keep free out of `total`. */
export function requiredFree(total: number, minimum: FreeSpace): number {
  return 'percent' in minimum ? (total * minimum.percent) / 100 : minimum.bytes;
}

const freeSpace = z.union([z.number(), z.string()]).transform((value, ctx): FreeSpace => {
  const percent = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value) : null;
  if (percent) {
    const number = Number(percent[1]);
    if (number <= 100) return { percent: number };
  } else {
    const bytes = parseSize(value);
    if (bytes !== undefined) return { bytes };
  }
  ctx.addIssue({ code: 'custom', message: `expected a percentage up to 100% ("10%") or a size ("1GB"), got ${JSON.stringify(value)}` });
  return z.NEVER;
});

/**
 * Options of the device-mapper thin-pool backend; the keys follow containerd's
 * devmapper snapshotter and Docker's dm.* storage options.
 */
export const thinConfigSchema = z.strictObject({
  /** Use this existing thin-pool; without it a loopback pool is created under `<root>/thin/`. */
  pool_name: z.string().regex(/^[A-Za-z0-9._+-]{1,100}$/, 'expected a device-mapper name (letters, digits, ._+-)').optional(),
  /** Initial size of the loopback pool's sparse data file; it grows when the pool fills. */
  data_size: size.default(100 * 1000 ** 3),
  /** Initial size of the loopback pool's sparse metadata file; it grows when the metadata fills. */
  metadata_size: size
    .refine((bytes) => bytes <= MAX_METADATA_BYTES, `expected at most ${MAX_METADATA_BYTES} bytes, the kernel's limit for thin-pool metadata`)
    .default(2 * 1000 ** 3),
  /** Size of the base device every snapshot without a parent starts from. */
  base_image_size: size.default(10 * 1000 ** 3),
  fs_type: z.enum(['ext4', 'xfs']).default('ext4'),
  /** Extra arguments for mkfs, split on white space. */
  fs_options: z.string().default(''),
  /** Reclaim removed snapshots' devices in `cleanup` instead of at once. */
  async_remove: z.boolean().default(false),
  /** Discard a device's blocks before deleting it, so the pool's backing storage shrinks. */
  discard_blocks: z.boolean().default(false),
  /** Refuse new devices when less than this is free in the pool (data or metadata). */
  min_free_space: freeSpace.default({ percent: 10 }),
});

export type ThinConfig = z.output<typeof thinConfigSchema>;
/** The config as written in a file, before defaults and size parsing. */
export type ThinConfigInput = z.input<typeof thinConfigSchema>;
