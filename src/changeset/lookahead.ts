/**
 * Runs an async function over a stream's items ahead of the consumer, a
 * bounded number at a time, and hands the results out in the stream's
 * order. On a cold cache each lstat or small read of a tree walk is a disk
 * round trip; issued one after another they add up (100 files: ~100 ms),
 * issued together the disk serves them in parallel.
 */
export class Lookahead<T, U> implements AsyncIterableIterator<U> {
  private readonly source: AsyncIterator<T>;
  private readonly queue: Array<Promise<IteratorResult<U, undefined>>> = [];
  private ended = false;

  /**
   * Starts at once: the first `depth` calls begin before anyone asks for a
   * result. The source must take overlapping next() calls (async
   * generators queue them).
   */
  constructor(
    source: AsyncIterable<T>,
    private readonly fn: (item: T) => Promise<U>,
    private readonly depth: number,
  ) {
    this.source = source[Symbol.asyncIterator]();
    this.fill();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<U, undefined>> {
    const head = this.queue.shift();
    if (!head) return { done: true, value: undefined };
    try {
      const result = await head;
      if (result.done) this.stop();
      else this.fill();
      return result;
    } catch (err) {
      await this.return();
      throw err;
    }
  }

  /** Stops reading the source (results still in flight are dropped). */
  async return(): Promise<IteratorResult<U, undefined>> {
    this.stop();
    await this.source.return?.();
    return { done: true, value: undefined };
  }

  private stop(): void {
    this.ended = true;
    this.queue.length = 0;
  }

  private fill(): void {
    while (!this.ended && this.queue.length < this.depth) {
      // An async generator queues next() calls, so several may be pending.
      const result = this.source.next().then(async (r): Promise<IteratorResult<U, undefined>> => {
        if (r.done) return { done: true, value: undefined };
        return { done: false, value: await this.fn(r.value) };
      });
      // Observed when its turn comes (or dropped after a stop): never unhandled meanwhile.
      result.catch(() => undefined);
      this.queue.push(result);
    }
  }
}
