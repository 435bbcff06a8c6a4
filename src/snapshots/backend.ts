import type { Kind, Labels, Mount, SnapshotRef, Usage } from './types';

/** Backend-specific facts, e.g. a thin pool's usage; JSON-serialisable. */
export type BackendStatus = object;

/** A snapshot about to be created, before it has a storage id. */
export interface NewSnapshot {
  kind: Exclude<Kind, 'committed'>;
  /** Storage ids of the ancestors, nearest first. */
  parentIds: string[];
  labels: Labels;
}

/** Storage a backend created for a snapshot whose metadata is not written yet. */
export interface StagedStorage {
  readonly backend: string;
}

/** What Commit made of an active snapshot's storage. */
export interface CommittedStorage {
  usage: Usage;
  /**
   * Bookkeeping that must commit with the snapshot's metadata (object
   * reference counts): runs inside that transaction, so it is synchronous.
   */
  record?(): void;
}

/**
 * The one seam between the snapshot model and the storage that holds layers.
 *
 * Creation is split so a crash never leaves metadata pointing at missing
 * storage: `stage` builds the storage under a temporary name, `publish` binds
 * it to the snapshot id inside the metadata write transaction, and storage a
 * crash left unpublished is found by `cleanup` because no snapshot id refers
 * to it.
 */
export interface Backend {
  readonly name: string;
  stage(snapshot: NewSnapshot): Promise<StagedStorage>;
  /** Runs inside the metadata write transaction, so it must be synchronous. */
  publish(staged: StagedStorage, id: string): void;
  /** Releases storage whose metadata transaction did not commit. */
  discard(staged: StagedStorage): Promise<void>;
  mounts(ref: SnapshotRef): Promise<Mount[]>;
  /** Seals an active snapshot that is being committed and reports its usage. */
  commit(ref: SnapshotRef): Promise<CommittedStorage>;
  /** Usage of an active snapshot, measured now. */
  usage(ref: SnapshotRef): Promise<Usage>;
  /**
   * Runs inside the metadata transaction that removes the snapshot with
   * storage id `id`, for bookkeeping that must go with it; synchronous.
   */
  recordRemoval?(id: string): void;
  /** Reclaims the storage of one removed snapshot right away. */
  remove(id: string): Promise<void>;
  /** Reclaims all storage that belongs to no id in `live`; returns the ids it removed. */
  cleanup(live: ReadonlySet<string>): Promise<string[]>;
  /** What `strata status` shows about the storage, as plain JSON-able data. */
  status(): Promise<BackendStatus>;
  close(): Promise<void>;
}
