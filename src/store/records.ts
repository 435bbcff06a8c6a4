import type { Kind, Labels } from '../snapshots/types';

/** One snapshot as stored in LMDB, keyed by its name. */
export interface SnapshotRecord {
  /** Storage id: names a directory or device in the backend; never reused. */
  id: string;
  kind: Kind;
  /** Parent snapshot name, '' for none. */
  parent: string;
  /** Storage ids of all ancestors, nearest first, so Mounts needs one read. */
  parentIds: string[];
  labels: Labels;
  /** Nanoseconds since the epoch, as decimal strings (values exceed 2^53). */
  created: string;
  updated: string;
  /** Number of snapshots whose parent this is: Remove refuses while non-zero. */
  children: number;
  /** Disk usage recorded at Commit; zero for active snapshots and views. */
  size: number;
  inodes: number;
}
