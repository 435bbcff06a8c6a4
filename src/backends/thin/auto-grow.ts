import { RwLock } from '../../snapshots/rw-lock';
import type { FreeSpace } from './config';
import type { LoopbackFiles } from './loopback';
import { MAX_METADATA_BYTES, METADATA_BLOCK_BYTES } from './metadata-limits';
import { dataIsLow, metadataIsLow, type ThinPool } from './pool';
import { humanBytes } from '../../bytes';

export type Log = (msg: string, fields?: object) => void;

/** What one growth attempt did; `blocked` says why a file that is low could not grow. */
export interface Growth {
  grew: boolean;
  blocked: { data?: string; metadata?: string };
}

/**
 * Grows a loopback pool before it fills, as Docker's ResizePool does on
 * request but without being asked: the pool raises a device-mapper event when
 * free data blocks fall below its low-water mark or free metadata below the
 * kernel's threshold, a `dmsetup wait` catches it, and the file running low
 * doubles (as far as its file system has room, and metadata up to the
 * kernel's limit). Writers blocked on a full pool are released when it resumes.
 */
export class LoopbackGrower {
  private readonly stopping = new AbortController();
  private readonly lock = new RwLock();
  private watching: Promise<void> | undefined;

  constructor(
    private readonly pool: ThinPool,
    private readonly files: LoopbackFiles,
    /** The backend's min_free_space: a pool below it grows before it refuses new devices. */
    private readonly minFree: FreeSpace,
    private readonly log: Log,
  ) {}

  start(): void {
    this.watching = this.watch();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.watching;
  }

  /** Grows the data and metadata files that are low on free space (see `isLow`), with one reload of the pool for both. */
  growIfLow(): Promise<Growth> {
    return this.lock.exclusive(async () => {
      const space = await this.pool.space();
      const growth: Growth = { grew: false, blocked: {} };
      const grown: Array<{ msg: string; from: number; to: number }> = [];
      let room = await this.files.backingFreeBytes();

      if (dataIsLow(space, this.minFree)) {
        const current = await this.files.dataBytes();
        const step = Math.min(current, room);
        if (step < this.pool.dataBlockBytes) {
          growth.blocked.data = `its data file ${this.files.dataFile} cannot grow: its file system has ${humanBytes(room)} free`;
          this.log('thin-pool is filling but its data file cannot grow: its file system is full', {
            pool: this.pool.name,
            dataFile: this.files.dataFile,
            free: humanBytes(space.dataTotalBytes - space.dataUsedBytes),
          });
        } else {
          await this.files.growData(current + step);
          room -= step;
          grown.push({ msg: 'grew thin-pool data file', from: current, to: current + step });
        }
      }

      if (metadataIsLow(space, this.minFree)) {
        const current = await this.files.metadataBytes();
        const step = Math.floor(Math.min(current, room, MAX_METADATA_BYTES - current) / METADATA_BLOCK_BYTES) * METADATA_BLOCK_BYTES;
        const blocked = metadataGrowthBlocked(space.needsCheck, this.files.metadataFile, current, step, room);
        if (blocked) {
          growth.blocked.metadata = blocked;
          this.log('thin-pool metadata is filling but cannot grow', {
            pool: this.pool.name,
            reason: blocked,
            free: humanBytes(space.metadataTotalBytes - space.metadataUsedBytes),
          });
        } else {
          await this.files.growMetadata(current + step);
          grown.push({ msg: 'grew thin-pool metadata file', from: current, to: current + step });
        }
      }

      if (grown.length === 0) return growth;
      await this.pool.reloadLoopbackSize();
      for (const { msg, from, to } of grown) this.log(msg, { pool: this.pool.name, from: humanBytes(from), to: humanBytes(to) });
      return { ...growth, grew: true };
    });
  }

  private async watch(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        // Read the counter before checking, so an event raised during the check still wakes the wait.
        const eventNumber = await this.pool.eventNumber();
        await this.growIfLow().catch((err) => this.log('could not grow thin-pool', { pool: this.pool.name, error: String(err) }));
        await this.pool.waitForEvent(eventNumber, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.log('thin-pool growth watcher stopped', { pool: this.pool.name, error: String(err) });
        return;
      }
    }
  }
}

/** Why the metadata file cannot grow by `step`, or undefined when it can. */
function metadataGrowthBlocked(needsCheck: boolean, file: string, current: number, step: number, room: number): string | undefined {
  // The kernel refuses to grow metadata that needs repair, and ignores metadata past its limit.
  if (needsCheck) return 'the pool needs a metadata check (thin_check) before its metadata can grow';
  if (current >= MAX_METADATA_BYTES) return `its metadata file ${file} is at the kernel's limit for thin-pool metadata (${humanBytes(MAX_METADATA_BYTES)})`;
  if (step <= 0) return `its metadata file ${file} cannot grow: its file system has ${humanBytes(room)} free`;
  return undefined;
}
