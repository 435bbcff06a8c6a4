import type { Database } from 'lmdb';

/** One object as the index knows it. */
export interface ObjectRecord {
  /** Bytes of content. */
  size: number;
  /** Committed layers whose stubs point at it; at 0 Cleanup may delete it. */
  refs: number;
}

/** What the index records in all: kept as it changes, so status and metrics read one record. */
export interface ObjectTotals {
  objects: number;
  bytes: number;
}

const TOTALS_KEY = 'totals';

/**
 * Reference counts of objects, in LMDB beside the snapshot metadata: every
 * method that writes runs inside the metadata transaction of the Commit,
 * Remove or Cleanup it belongs to, so counts and snapshots change together
 * or not at all.
 */
export class ObjectIndex {
  constructor(
    /** Object name -> record. */
    private readonly objects: Database<ObjectRecord, string>,
    /** Storage id of a committed object-store layer -> the objects it references, each once. */
    private readonly layers: Database<string[], string>,
    /** One record: the ObjectTotals of `objects`. */
    private readonly counters: Database<ObjectTotals, string>,
  ) {}

  /**
   * Records committed layer `id` as referencing `objects` (name -> size). A
   * layer without objects needs nothing of the store and is not recorded.
   */
  addLayer(id: string, objects: ReadonlyMap<string, number>): void {
    if (objects.size === 0) return;
    this.layers.putSync(id, [...objects.keys()]);
    const totals = this.totals();
    for (const [name, size] of objects) {
      const record = this.objects.get(name);
      if (record === undefined) {
        totals.objects++;
        totals.bytes += size;
      }
      this.objects.putSync(name, { size, refs: (record?.refs ?? 0) + 1 });
    }
    this.counters.putSync(TOTALS_KEY, totals);
  }

  /** Drops layer `id`'s references; a layer stored without objects has none. */
  removeLayer(id: string): void {
    const names = this.layers.get(id);
    if (names === undefined) return;
    for (const name of names) {
      const record = this.objects.get(name);
      if (record !== undefined) this.objects.putSync(name, { ...record, refs: Math.max(0, record.refs - 1) });
    }
    this.layers.removeSync(id);
  }

  isObjectLayer(id: string): boolean {
    return this.layers.doesExist(id);
  }

  hasObjectLayers(): boolean {
    for (const _ of this.layers.getKeys({ limit: 1 })) return true;
    return false;
  }

  references(name: string): number {
    return this.objects.get(name)?.refs ?? 0;
  }

  /** Names of recorded objects no layer references. */
  unreferenced(): string[] {
    const names: string[] = [];
    for (const { key, value } of this.objects.getRange()) if (value.refs === 0) names.push(key);
    return names;
  }

  /**
   * Of `names`, those still unreferenced now, forgotten by the index: the
   * caller deletes their files once this transaction commits.
   */
  forgetUnreferenced(names: Iterable<string>): string[] {
    const forgotten: string[] = [];
    const totals = this.totals();
    for (const name of names) {
      const record = this.objects.get(name);
      if (record !== undefined && record.refs > 0) continue;
      if (record !== undefined) {
        this.objects.removeSync(name);
        totals.objects--;
        totals.bytes -= record.size;
      }
      forgotten.push(name);
    }
    this.counters.putSync(TOTALS_KEY, totals);
    return forgotten;
  }

  totals(): ObjectTotals {
    return { ...(this.counters.get(TOTALS_KEY) ?? { objects: 0, bytes: 0 }) };
  }
}
