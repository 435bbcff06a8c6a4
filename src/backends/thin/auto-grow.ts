import { RwLock } from '../../snapshots/rw-lock';
import type { LoopbackFiles } from './loopback';
import { isLow, type ThinPool } from './pool';
import { humanBytes } from '../../bytes';

export type Log = (msg: string, fields?: object) => void;

/**
 * Grows a loopback pool before it fills, as Docker's ResizePool does on
 * request but without being asked: the pool raises a device-mapper event when
 * free data blocks fall below its low-water mark, a `dmsetup wait` catches it,
 * and the data file doubles (as far as its file system has room). Writers
 * blocked on a full pool are released when it resumes.
 */
export class LoopbackGrower {
  private readonly stopping = new AbortController();
  private readonly lock = new RwLock();
  private watching: Promise<void> | undefined;

  constructor(
    private readonly pool: ThinPool,
    private readonly files: LoopbackFiles,
    private readonly log: Log,
  ) {}

  start(): void {
    this.watching = this.watch();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.watching;
  }

  /** Grows the pool if less than the low-water share of its data space is free; resolves to whether it grew. */
  growIfLow(): Promise<boolean> {
    return this.lock.exclusive(async () => {
      const space = await this.pool.space();
      if (!isLow(space)) return false;
      const free = space.dataTotalBytes - space.dataUsedBytes;
      const current = await this.files.dataBytes();
      const room = await this.files.backingFreeBytes();
      const step = Math.min(current, room);
      if (step < this.pool.dataBlockBytes) {
        this.log('thin-pool is filling but its data file cannot grow: its file system is full', {
          pool: this.pool.name,
          dataFile: this.files.dataFile,
          free: humanBytes(free),
        });
        return false;
      }
      await this.files.growData(current + step);
      await this.pool.reloadLoopbackSize();
      this.log('grew thin-pool data file', { pool: this.pool.name, from: humanBytes(current), to: humanBytes(current + step) });
      return true;
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
