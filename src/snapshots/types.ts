/** The snapshot model shared by the store, the backends and the server. */

export type Kind = 'view' | 'active' | 'committed';

export type Labels = Record<string, string>;

/** What Stat and List report about a snapshot; times are nanoseconds since the epoch. */
export interface SnapshotInfo {
  name: string;
  /** Name of the parent snapshot, '' when there is none. */
  parent: string;
  kind: Kind;
  labels: Labels;
  createdAt: bigint;
  updatedAt: bigint;
}

/** A mount as containerd's `containerd.types.Mount`. */
export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export interface Usage {
  /** Bytes on disk. */
  size: number;
  inodes: number;
}

/**
 * What a backend needs to know about a snapshot: its storage id, its kind and
 * the storage ids of its ancestors, nearest first.
 */
export interface SnapshotRef {
  id: string;
  kind: Kind;
  parentIds: string[];
  labels: Labels;
}
