/**
 * A readers-writer lock for async work: many shared holders or one exclusive
 * holder. Snapshot creation holds it shared; Cleanup holds it exclusively so
 * it never mistakes storage being published for debris.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: Array<{ exclusive: boolean; wake: () => void }> = [];

  async shared<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await work();
    } finally {
      this.readers--;
      this.wakeNext();
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await work();
    } finally {
      this.writer = false;
      this.wakeNext();
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.canEnter(exclusive) && this.waiting.length === 0) {
      this.enter(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ exclusive, wake: resolve }));
  }

  private canEnter(exclusive: boolean): boolean {
    return !this.writer && (!exclusive || this.readers === 0);
  }

  private enter(exclusive: boolean): void {
    if (exclusive) this.writer = true;
    else this.readers++;
  }

  private wakeNext(): void {
    while (this.waiting.length > 0 && this.canEnter(this.waiting[0].exclusive)) {
      const next = this.waiting.shift()!;
      this.enter(next.exclusive);
      next.wake();
      if (next.exclusive) return;
    }
  }
}
