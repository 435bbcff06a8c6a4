import type { CallContext } from '../content/call-context';
import type { Mount } from '../snapshots/types';
import type { Descriptor, Differ, DifferSettings, DiffRequest } from './differ';

/**
 * A Differ whose modules (the changeset library, compression, the apply
 * worker, the content-store clients) load on the first Apply or Diff: a
 * server starts without them, and many never diff at all.
 */
export class LazyDiffer {
  private loading?: Promise<Differ>;

  constructor(private readonly settings: DifferSettings) {}

  private differ(): Promise<Differ> {
    return (this.loading ??= import('./differ').then(({ Differ }) => new Differ(this.settings)));
  }

  async apply(ctx: CallContext, desc: Descriptor, mounts: Mount[]): Promise<Descriptor> {
    return (await this.differ()).apply(ctx, desc, mounts);
  }

  async diff(ctx: CallContext, request: DiffRequest): Promise<Descriptor> {
    return (await this.differ()).diff(ctx, request);
  }

  async close(): Promise<void> {
    if (this.loading !== undefined) (await this.loading).close();
  }
}
