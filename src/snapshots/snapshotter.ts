import type { MetaStore, StoredSnapshot } from '../store/metastore';
import type { SnapshotRecord } from '../store/records';
import type { Backend, StagedStorage } from './backend';
import { nowNanos } from './clock';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from './errors';
import { matchAll, parseSnapshotFilters } from './filters';
import { validateLabels, withoutEmptyValues } from './labels';
import { RwLock } from './rw-lock';
import type { Kind, Labels, Mount, SnapshotInfo, SnapshotRef, Usage } from './types';

export interface SnapshotterOptions {
  /** Reclaim storage inside Remove instead of leaving it to Cleanup. */
  syncRemove: boolean;
  onBackgroundError?: (err: unknown, context: string) => void;
  /** Told what each Remove and Cleanup did to storage, for the operator's log. */
  onReclaim?: (event: ReclaimEvent) => void;
}

/** Remove: one snapshot's storage, reclaimed now or left for Cleanup. Cleanup: the ids it reclaimed. */
export type ReclaimEvent =
  | { operation: 'remove'; key: string; id: string; storage: 'reclaimed' | 'deferred' | 'failed' }
  | { operation: 'cleanup'; ids: string[] };

/**
 * What Update receives: name identifies the snapshot, labels are the new
 * values. Parent, kind and times in the request are ignored, as containerd's
 * UpdateInfo ignores them: its proxy client sends every Update as COMMITTED
 * whatever the snapshot is, and a change of any of them can only be asked for
 * through the field mask, which refuses it.
 */
export interface SnapshotUpdate {
  name: string;
  labels: Labels;
}

/** Field-mask paths Update accepts: all labels, or one label. */
const LABELS_PATH = 'labels';
const LABEL_PATH_PREFIX = 'labels.';

/**
 * containerd's snapshot rules (kinds, parents, names, labels, times) over the
 * metadata store and one backend. Each operation is one metadata transaction;
 * backend work that can be slow happens before it (staging, usage) or after it
 * (reclaiming storage), ordered so a crash in between leaves nothing that
 * Cleanup cannot find and loses nothing committed.
 */
export class Snapshotter {
  private readonly creation = new RwLock();

  constructor(
    private readonly store: MetaStore,
    readonly backend: Backend,
    private readonly options: SnapshotterOptions,
  ) {}

  prepare(key: string, parent: string, labels: Labels): Promise<Mount[]> {
    return this.createSnapshot('active', key, parent, labels);
  }

  view(key: string, parent: string, labels: Labels): Promise<Mount[]> {
    return this.createSnapshot('view', key, parent, labels);
  }

  async mounts(key: string): Promise<Mount[]> {
    const record = this.mustGet(key);
    if (record.kind === 'committed') {
      throw failedPrecondition(`snapshot ${JSON.stringify(key)} is committed: only active snapshots and views have mounts`);
    }
    return this.backend.mounts(toRef(record));
  }

  async commit(name: string, key: string, labels: Labels, parent = ''): Promise<void> {
    requireKey(name, 'name');
    validateLabels(labels);
    const precheck = this.checkCommit(name, key, parent);
    const { usage, record } = await this.backend.commit(toRef(precheck.active));
    await this.store.transact(() => {
      const { active, newParent } = this.checkCommit(name, key, parent);
      const now = nowNanos().toString();
      let parentIds = active.parentIds;
      if (newParent) {
        this.store.put(parent, { ...newParent, children: newParent.children + 1 });
        parentIds = [newParent.id, ...newParent.parentIds];
      }
      this.store.delete(key);
      this.store.put(name, {
        ...active,
        kind: 'committed',
        parent: newParent ? parent : active.parent,
        parentIds,
        labels: withoutEmptyValues(labels),
        // containerd's storage stamps a committed snapshot as new (CommitActive):
        // the layer came into being now, whenever its active snapshot was made.
        created: now,
        updated: now,
        size: usage.size,
        inodes: usage.inodes,
      });
      record?.();
    });
  }

  async remove(key: string): Promise<void> {
    const removed = await this.store.transact(() => {
      const record = this.mustGet(key);
      if (record.children > 0) {
        throw failedPrecondition(`cannot remove snapshot ${JSON.stringify(key)}: it has ${record.children} child snapshot(s)`);
      }
      this.store.delete(key);
      this.backend.recordRemoval?.(record.id);
      if (record.parent !== '') {
        const parent = this.store.get(record.parent);
        if (parent) this.store.put(record.parent, { ...parent, children: parent.children - 1 });
      }
      return record;
    });
    let storage: 'reclaimed' | 'deferred' | 'failed' = 'deferred';
    if (this.options.syncRemove) {
      // The metadata is gone already; storage left behind by a failure here is
      // debris Cleanup will find, so the caller is not told of it.
      storage = await this.backend.remove(removed.id).then(
        () => 'reclaimed' as const,
        (err) => {
          this.options.onBackgroundError?.(err, `remove ${removed.id}`);
          return 'failed' as const;
        },
      );
    }
    this.options.onReclaim?.({ operation: 'remove', key, id: removed.id, storage });
  }

  stat(key: string): SnapshotInfo {
    return toInfo(key, this.mustGet(key));
  }

  /** Applies containerd's field-mask semantics; an empty mask replaces all labels. */
  async update(info: SnapshotUpdate, paths: string[]): Promise<SnapshotInfo> {
    validateLabels(info.labels);
    const fieldPaths = paths.length > 0 ? paths : [LABELS_PATH];
    for (const path of fieldPaths) {
      if (path !== LABELS_PATH && !path.startsWith(LABEL_PATH_PREFIX)) {
        throw invalidArgument(`cannot update ${JSON.stringify(path)} field on snapshot ${JSON.stringify(info.name)}`);
      }
    }
    return this.store.transact(() => {
      const record = this.mustGet(info.name);
      let labels = { ...record.labels };
      for (const path of fieldPaths) {
        if (path === LABELS_PATH) {
          labels = { ...info.labels };
        } else {
          const label = path.slice(LABEL_PATH_PREFIX.length);
          labels[label] = info.labels[label] ?? '';
        }
      }
      const updated: SnapshotRecord = { ...record, labels: withoutEmptyValues(labels), updated: nowNanos().toString() };
      this.store.put(info.name, updated);
      return toInfo(info.name, updated);
    });
  }

  /** Names of the snapshots made, changed or removed since the previous call; see MetaStore.takeChangedNames. */
  takeChangedNames(): Set<string> | undefined {
    return this.store.takeChangedNames();
  }

  /** One snapshot as list() gives it. */
  listed(name: string): ListedSnapshot | undefined {
    const stored = this.store.stored(name);
    return stored === undefined ? undefined : new ListedSnapshot(stored);
  }

  /** Every snapshot's name, in list()'s order. */
  names(): Iterable<string> {
    return this.store.names();
  }

  /**
   * Snapshots matching any of `filters`, read lazily so memory stays flat
   * however many there are. Without filters no record is decoded until its
   * `info` is read, so a caller that kept what it made of an unchanged
   * revision reads nothing more.
   */
  *list(filters: string[]): Generator<ListedSnapshot> {
    const matches = parseSnapshotFilters(filters);
    for (const entry of this.store.entries()) {
      const listed = new ListedSnapshot(entry);
      if (matches === matchAll || matches(listed.info)) yield listed;
    }
  }

  countByKind(): Record<Kind, number> {
    const counts: Record<Kind, number> = { active: 0, view: 0, committed: 0 };
    for (const { record } of this.store.entries()) counts[record.kind]++;
    return counts;
  }

  async usage(key: string): Promise<Usage> {
    const record = this.mustGet(key);
    if (record.kind === 'active') return this.backend.usage(toRef(record));
    return { size: record.size, inodes: record.inodes };
  }

  /** Reclaims storage no snapshot refers to: removed snapshots and debris of crashed operations. */
  async cleanup(): Promise<string[]> {
    const ids = await this.creation.exclusive(() => this.backend.cleanup(this.store.liveIds()));
    this.options.onReclaim?.({ operation: 'cleanup', ids });
    return ids;
  }

  private createSnapshot(kind: 'active' | 'view', key: string, parent: string, labels: Labels): Promise<Mount[]> {
    requireKey(key, 'key');
    validateLabels(labels);
    const storedLabels = withoutEmptyValues(labels);
    return this.creation.shared(async () => {
      const parentRecord = this.checkCreate(key, parent);
      const parentIds = parentRecord ? [parentRecord.id, ...parentRecord.parentIds] : [];
      const staged = await this.backend.stage({ kind, parentIds, labels: storedLabels });
      const record = this.publish(staged, () => {
        // Checked again: another call may have taken the key or removed the
        // parent while the storage was being staged.
        const current = this.checkCreate(key, parent);
        const now = nowNanos().toString();
        const created: SnapshotRecord = {
          id: this.store.allocateId(),
          kind,
          parent,
          parentIds,
          labels: storedLabels,
          created: now,
          updated: now,
          children: 0,
          size: 0,
          inodes: 0,
        };
        this.store.put(key, created);
        if (current) this.store.put(parent, { ...current, children: current.children + 1 });
        return created;
      });
      return this.backend.mounts(toRef(await record));
    });
  }

  /** Writes the metadata and binds the staged storage to it in one transaction, or discards the storage. */
  private async publish(staged: StagedStorage, writeMetadata: () => SnapshotRecord): Promise<SnapshotRecord> {
    try {
      return await this.store.transact(() => {
        const record = writeMetadata();
        this.backend.publish(staged, record.id);
        return record;
      });
    } catch (err) {
      await this.backend.discard(staged);
      throw err;
    }
  }

  private checkCreate(key: string, parent: string): SnapshotRecord | undefined {
    if (this.store.get(key)) throw alreadyExists(`snapshot ${JSON.stringify(key)} already exists`);
    return parent === '' ? undefined : this.committedParent(parent);
  }

  private checkCommit(name: string, key: string, parent: string) {
    const active = this.mustGet(key);
    if (active.kind !== 'active') {
      throw failedPrecondition(`snapshot ${JSON.stringify(key)} is a ${active.kind}, not an active snapshot: it cannot be committed`);
    }
    if (this.store.get(name)) throw alreadyExists(`snapshot ${JSON.stringify(name)} already exists`);
    if (parent !== '' && active.parent !== '') {
      throw invalidArgument(
        `cannot commit ${JSON.stringify(key)} with parent ${JSON.stringify(parent)}: it already has parent ${JSON.stringify(active.parent)}`,
      );
    }
    return { active, newParent: parent === '' ? undefined : this.committedParent(parent) };
  }

  private committedParent(parent: string): SnapshotRecord {
    const record = this.store.get(parent);
    if (!record) throw notFound(`parent snapshot ${JSON.stringify(parent)} does not exist`);
    if (record.kind !== 'committed') {
      throw invalidArgument(`parent ${JSON.stringify(parent)} is not a committed snapshot`);
    }
    return record;
  }

  private mustGet(key: string): SnapshotRecord {
    const record = this.store.get(key);
    if (!record) throw notFound(`snapshot ${JSON.stringify(key)} does not exist`);
    return record;
  }
}

function requireKey(key: string, what: string): void {
  if (key === '') throw invalidArgument(`snapshot ${what} must not be empty`);
}

/** One snapshot of a List: its info, and the revision of its record that info was read from. */
export class ListedSnapshot {
  #info?: SnapshotInfo;

  constructor(private readonly stored: StoredSnapshot) {}

  get name(): string {
    return this.stored.name;
  }

  /** Opaque; equal revisions of one name have equal infos. */
  get revision(): Uint8Array {
    return this.stored.revision;
  }

  get info(): SnapshotInfo {
    return (this.#info ??= toInfo(this.stored.name, this.stored.record));
  }
}

function toRef(record: SnapshotRecord): SnapshotRef {
  return { id: record.id, kind: record.kind, parentIds: record.parentIds, labels: record.labels };
}

function toInfo(name: string, record: SnapshotRecord): SnapshotInfo {
  return {
    name,
    parent: record.parent,
    kind: record.kind as Kind,
    labels: record.labels,
    createdAt: BigInt(record.created),
    updatedAt: BigInt(record.updated),
  };
}
