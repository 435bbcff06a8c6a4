import { open, type Database, type RootDatabase } from 'lmdb';
import { invalidArgument } from '../snapshots/errors';
import type { SnapshotRecord } from './records';

/** The bound of ids handed out (see allocateId). */
const NEXT_ID_KEY = 'next-id';
/** How far allocateId raises that bound at a time. */
const ID_BLOCK = 64;
/**
 * Records as plain msgpack maps. lmdb-js's default record extension writes
 * each value's structure into the value itself, and decoding defines it anew
 * on every read (3-4x slower per record in List). Values written that way
 * still decode. A msgpackr option lmdb-js passes on, though its types omit it.
 */
const PLAIN_MAPS = { useRecords: false };
/**
 * Past this many names written between two readers' calls, the store stops
 * listing them and the reader reads everything: a server nobody Lists keeps
 * no growing list of every name it ever wrote.
 */
export const MAX_CHANGED_NAMES = 65_536;
/** lmdb-js refuses keys longer than this many bytes. */
const MAX_KEY_BYTES = 1978;

/** Decodes a record from its stored bytes. */
interface RecordDecoder {
  decode(bytes: Uint8Array): unknown;
}

/** A snapshot as stored: its name, its record's encoded bytes, and the record. */
export class StoredSnapshot {
  #record?: SnapshotRecord;

  constructor(
    readonly name: string,
    /**
     * The record's bytes in the store. Equal bytes are an equal record, so a
     * reader can keep what it derived from a record until these change.
     */
    readonly revision: Uint8Array,
    private readonly decoder: RecordDecoder,
  ) {}

  /** Decoded from `revision` on first use. */
  get record(): SnapshotRecord {
    return (this.#record ??= this.decoder.decode(this.revision) as SnapshotRecord);
  }
}

/**
 * Snapshot metadata in an LMDB environment: records by name, a monotonic id
 * counter, and sub-databases backends may use for their own state. It knows
 * nothing of file systems or gRPC; the rules about kinds and parents live in
 * the snapshotter, which runs each operation inside `transact`.
 */
export class MetaStore {
  private constructor(
    private readonly env: RootDatabase,
    private readonly snapshots: Database<SnapshotRecord, string>,
    /** The same records, read as their stored bytes. */
    private readonly snapshotBytes: Database<Uint8Array, string>,
    private readonly meta: Database<number, string>,
  ) {}

  static open(path: string): MetaStore {
    // Every commit is fsynced before its callers are answered: a Commit
    // acknowledged to containerd must survive a power loss, not just a crash.
    const env = open({ path, maxDbs: 16, overlappingSync: false, noSync: false });
    return new MetaStore(
      env,
      env.openDB<SnapshotRecord, string>({ name: 'snapshots', ...PLAIN_MAPS }),
      env.openDB<Uint8Array, string>({ name: 'snapshots', encoding: 'binary' }),
      env.openDB<number, string>({ name: 'meta' }),
    );
  }

  /**
   * A database for a backend's own records; writes made during `transact`
   * commit with it. `plainMaps`: records as plain msgpack maps (see
   * PLAIN_MAPS), for databases that never held lmdb-js's record format.
   */
  backendDatabase<V = any>(name: string, options: { plainMaps?: boolean } = {}): Database<V, string> {
    return this.env.openDB<V, string>({ name: `backend-${name}`, ...(options.plainMaps ? PLAIN_MAPS : {}) });
  }

  /** Transactions handed to lmdb-js's write thread and not yet committed. */
  #queued = 0;
  /** Set from a synchronous commit until the event loop's next turn. */
  #committedThisTurn = false;
  /** The next id this process hands out; 0 until it has read the store's bound. */
  #nextId = 0;
  /** Names put or deleted since takeChangedNames() last returned them; undefined past MAX_CHANGED_NAMES. */
  #changedNames: Set<string> | undefined = new Set();

  /**
   * The names of the snapshot records put or deleted (committed or rolled
   * back) since the previous call, for one reader that keeps what it derived
   * from records and updates only these. Undefined while a queued
   * transaction has not settled: its writes, whether or not already made,
   * may not be readable yet, and they stay to be returned once it has; and
   * once, after more than MAX_CHANGED_NAMES. One server owns a root
   * (root-lock.ts), so no other process writes records.
   */
  takeChangedNames(): Set<string> | undefined {
    if (this.#queued > 0) return undefined;
    const changed = this.#changedNames;
    this.#changedNames = new Set();
    return changed;
  }

  /**
   * Runs `operation` as one atomic unit: all of its writes commit together or
   * not at all, and the promise settles once they are durable (fsynced).
   * `operation` runs synchronously inside its transaction and sees every
   * write committed or queued before it, so checks made there are current.
   *
   * A lone call commits at once on this thread: a trip through lmdb-js's
   * write thread and back costs a sequential caller more than the event loop
   * loses while the fsync blocks it. When calls overlap (a second one in the
   * same event-loop turn, or any while a batch is queued) they group-commit:
   * lmdb-js queues each into its next batched write transaction as a child
   * transaction (a throw rolls back only its own writes) and commits the
   * batch with one fsync on its write thread, so concurrent callers share
   * that fsync and the event loop is free while the disk works.
   */
  transact<T>(operation: () => T): Promise<T> {
    if (this.#queued === 0 && !this.#committedThisTurn) {
      this.#committedThisTurn = true;
      setImmediate(() => (this.#committedThisTurn = false));
      try {
        return Promise.resolve(this.env.transactionSync(operation));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    this.#queued++;
    return this.env.childTransaction(operation).finally(() => this.#queued--);
  }

  get(name: string): SnapshotRecord | undefined {
    checkKey(name);
    return this.snapshots.get(name);
  }

  put(name: string, record: SnapshotRecord): void {
    checkKey(name);
    this.snapshots.putSync(name, record);
    this.#noteChanged(name);
  }

  delete(name: string): void {
    this.snapshots.removeSync(name);
    this.#noteChanged(name);
  }

  #noteChanged(name: string): void {
    if (this.#changedNames === undefined) return;
    this.#changedNames.add(name);
    if (this.#changedNames.size > MAX_CHANGED_NAMES) this.#changedNames = undefined;
  }

  /**
   * A fresh storage id; ids only grow, so debris of a crashed operation
   * never collides with a live id. The store keeps a bound no id handed out
   * reaches, raised a block at a time: most transactions then write nothing
   * to the meta database, a page fewer to flush (0.05-0.1 ms of a commit
   * here). The bound is read inside the caller's transaction, so an id is
   * only handed out under a bound that commits with it or before it; after
   * a rollback or a crash, ids skip ahead instead of coming back.
   */
  allocateId(): string {
    const bound = this.meta.get(NEXT_ID_KEY) ?? 1;
    if (this.#nextId === 0 || this.#nextId >= bound) {
      this.#nextId = Math.max(this.#nextId, bound);
      this.meta.putSync(NEXT_ID_KEY, this.#nextId + ID_BLOCK);
    }
    return String(this.#nextId++);
  }

  /** Every snapshot in name order, read lazily from one consistent read snapshot. */
  *entries(): Generator<StoredSnapshot> {
    const decoder = this.#decoder;
    for (const { key, value } of this.snapshotBytes.getRange()) yield new StoredSnapshot(key, value, decoder);
  }

  /** One snapshot as entries() gives it. */
  stored(name: string): StoredSnapshot | undefined {
    const bytes = this.snapshotBytes.get(name);
    return bytes === undefined ? undefined : new StoredSnapshot(name, bytes, this.#decoder);
  }

  /** Every snapshot's name in entries()' order, without reading records. */
  names(): Iterable<string> {
    return this.snapshotBytes.getKeys();
  }

  get #decoder(): RecordDecoder {
    // lmdb-js's types leave out the decoder its msgpack databases have.
    return (this.snapshots as unknown as { decoder: RecordDecoder }).decoder;
  }

  liveIds(): Set<string> {
    const ids = new Set<string>();
    for (const entry of this.entries()) ids.add(entry.record.id);
    return ids;
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}

function checkKey(name: string): void {
  if (Buffer.byteLength(name) > MAX_KEY_BYTES) {
    throw invalidArgument(`snapshot key longer than ${MAX_KEY_BYTES} bytes`);
  }
}
