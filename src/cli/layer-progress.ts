import { Presets, SingleBar } from 'cli-progress';
import { humanBytes } from '../bytes';

export interface LayerProgressOptions {
  /** Bytes the input will have, when known: the bar then shows a percentage and an ETA. */
  totalBytes?: number;
  /** Entries done so far, when something else counts them (the apply thread); else countEntries does. */
  entries?: () => number;
}

/** How often the line is redrawn: entries go on counting while no bytes arrive (the apply thread catching up). */
const REDRAW_MS = 200;

/**
 * Bytes, entries and rate on stderr while a layer is written or applied,
 * with a percentage and an ETA when the input's size is known; nothing when
 * stderr is not a terminal.
 */
export class LayerProgress {
  private readonly bar?: SingleBar;
  private readonly timer?: NodeJS.Timeout;
  private bytes = 0;
  private counted = 0;
  private readonly started = Date.now();

  constructor(
    label: string,
    private readonly opts: LayerProgressOptions = {},
  ) {
    if (!process.stderr.isTTY) return;
    const known = opts.totalBytes !== undefined;
    const format = known
      ? `${label} {bar} {percentage}% | {done} of {total_size} | {entries} entries | {rate}/s | ETA {eta_formatted}`
      : `${label} {done} | {entries} entries | {rate}/s`;
    this.bar = new SingleBar({ stream: process.stderr, format, hideCursor: true, fps: 5, etaBuffer: 20 }, Presets.shades_classic);
    this.bar.start(opts.totalBytes ?? 0, 0, this.payload());
    this.timer = setInterval(() => this.redraw(), REDRAW_MS).unref();
  }

  private payload() {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    return {
      done: humanBytes(this.bytes),
      total_size: humanBytes(this.opts.totalBytes ?? 0),
      entries: this.opts.entries?.() ?? this.counted,
      rate: humanBytes(Math.round(this.bytes / seconds)),
    };
  }

  private redraw(): void {
    this.bar?.update(this.opts.totalBytes === undefined ? 0 : this.bytes, this.payload());
  }

  /** Passes `source` through, counting its bytes. */
  async *countBytes(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      this.bytes += chunk.length;
      yield chunk;
    }
  }

  /** Passes `items` through, counting them as entries. */
  *countEntries<T>(items: Iterable<T>): Generator<T> {
    for (const item of items) {
      this.counted++;
      yield item;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.redraw();
    this.bar?.stop();
  }
}
