import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { mkdir, readdir, readlink, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { currentUmask, modeNeedsChmod } from '../../fsutil/mode';
import { readdirIfPresent } from '../../fsutil/readdir';
import { UniqueNames } from '../../fsutil/unique-names';
import { diskUsage } from '../../fsutil/usage';
import { MissingObjectError } from '../../objects/layer-seal';
import { markStubs } from '../../objects/manifest';
import type { ObjectStore } from '../../objects/object-store';
import type { Backend, CommittedStorage, NewSnapshot, StagedStorage } from '../../snapshots/backend';
import { failedPrecondition, invalidArgument, notFound } from '../../snapshots/errors';
import type { Mount, SnapshotRef, Usage } from '../../snapshots/types';
import type { OverlayFeatures } from './features';
import { isId, type OverlayLayout, requireId } from './layout';
import { overlayMounts } from './mounts';

/** Modes containerd gives these dirs; set explicitly so the umask cannot narrow them. */
const SNAPSHOT_DIR_MODE = 0o700;
const FS_DIR_MODE = 0o755;
const WORK_DIR_MODE = 0o711;

const STAGED_PREFIX = 'new-';
const TRASH_PREFIX = 'trash-';

/** mkdir's mode passes through the umask; only a umask that narrows it needs the chmod. */
function mkdirWithMode(dir: string, mode: number, umask: number): void {
  mkdirSync(dir, { mode });
  if (modeNeedsChmod(mode, umask)) chmodSync(dir, mode);
}

const isErrno = (err: unknown, code: string) => (err as NodeJS.ErrnoException | undefined)?.code === code;

/** A `snapshots/new-…` dir being built, and which id it was published as. */
class StagedDir implements StagedStorage {
  readonly backend = 'overlay';
  publishedAs?: string;

  constructor(
    readonly name: string,
    /** Identity of the dir, to recognise it after a rename. */
    readonly dev: number,
    readonly ino: number,
  ) {}
}

export type ObjectStoreSetting = 'auto' | 'on' | 'off';

/** Whether layers keep their files' content in the object store, and why not. */
export interface ObjectStoreMode {
  enabled: boolean;
  configured: ObjectStoreSetting;
  /** Why it is off. */
  reason?: string;
}

/** What `strata status` shows of an overlay backend. */
export interface OverlayStatus {
  snapshotsDir: string;
  features: OverlayFeatures;
  /** Removed snapshots whose directories are still being deleted. */
  pendingDeletions: number;
  objectStore: {
    mode: 'on' | 'off';
    configured: ObjectStoreSetting;
    reason?: string;
    /** Objects the store records, and the bytes of content they hold. */
    objects: number;
    bytes: number;
  };
}

export class OverlayBackend implements Backend {
  readonly name = 'overlay';
  /** Names of staged dirs not yet published: cleanup must not take them. */
  readonly #staged = new Set<string>();
  /** Trash dirs being deleted, and the deletions, so cleanup skips them and close waits for them. */
  readonly #removing = new Map<string, Promise<void>>();

  /** Names of staged and trash dirs. */
  readonly #names = new UniqueNames();
  /** The umask the server started with, read once. */
  readonly #umask = currentUmask();
  /** Whether any committed layer has stubs: only then can a chain need the store. */
  readonly #objectLayersExist: boolean;

  constructor(
    readonly layout: OverlayLayout,
    readonly features: OverlayFeatures,
    /** The store; kept when the mode is off, for layers an earlier start stored there. */
    readonly objects: ObjectStore,
    readonly objectMode: ObjectStoreMode,
  ) {
    this.#objectLayersExist = objects.index.hasObjectLayers();
  }

  /**
   * Builds the dirs with synchronous calls: a handful of metadata syscalls,
   * each cheaper than a round trip through libuv's thread pool, which made
   * up most of Prepare's time when every call was one.
   */
  async stage(snapshot: NewSnapshot): Promise<StagedStorage> {
    if (snapshot.kind !== 'active' && snapshot.kind !== 'view') {
      throw invalidArgument(`cannot stage a snapshot of kind ${JSON.stringify(snapshot.kind)}`);
    }
    snapshot.parentIds.forEach(requireId);
    this.#requireReadable(snapshot.parentIds);
    const owner = snapshot.parentIds.length > 0 ? this.#parentOwner(snapshot.parentIds[0]) : undefined;

    // Claimed before the dir exists, so a cleanup running meanwhile skips it.
    const name = this.#names.next(STAGED_PREFIX);
    this.#staged.add(name);
    const dir = this.layout.entryPath(name);
    try {
      mkdirWithMode(dir, SNAPSHOT_DIR_MODE, this.#umask);
      const fsDir = path.join(dir, 'fs');
      mkdirWithMode(fsDir, FS_DIR_MODE, this.#umask);
      // As containerd: the new upper dir's root belongs to whoever owns the parent's.
      if (owner) lchownSync(fsDir, owner.uid, owner.gid);
      if (snapshot.kind === 'active') mkdirWithMode(path.join(dir, 'work'), WORK_DIR_MODE, this.#umask);
      const identity = statSync(dir);
      return new StagedDir(name, identity.dev, identity.ino);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      this.#staged.delete(name);
      throw err;
    }
  }

  publish(staged: StagedStorage, id: string): void {
    requireId(id);
    const dir = this.#unpublished(staged);
    const from = this.layout.entryPath(dir.name);
    const target = this.layout.entryPath(id);
    try {
      renameSync(from, target);
    } catch (err) {
      // Storage under an id no committed metadata refers to, left by a crash
      // between publish and commit (rename replaces only an empty dir). Set
      // aside for cleanup.
      if (!isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EEXIST')) throw err;
      this.#setAside(id, this.#names.next(TRASH_PREFIX));
      renameSync(from, target);
    }
    this.#staged.delete(dir.name);
    dir.publishedAs = id;
  }

  async discard(staged: StagedStorage): Promise<void> {
    if (!(staged instanceof StagedDir)) throw invalidArgument('storage was not staged by the overlay backend');
    if (this.#staged.has(staged.name)) {
      const removal = this.#reclaim(staged.name);
      this.#staged.delete(staged.name);
      return removal;
    }
    // Published, then the metadata transaction failed. The id may have been
    // handed out again since; only the dir this staging built is removed.
    if (staged.publishedAs !== undefined && this.#isDir(staged.publishedAs, staged)) {
      return this.#reclaim(staged.publishedAs);
    }
  }

  async mounts(ref: SnapshotRef): Promise<Mount[]> {
    this.#requireReadable(ref.parentIds);
    return overlayMounts(this.layout, this.features, ref, this.objectMode.enabled);
  }

  /** With the object store off, layers holding stubs cannot be shown: refused, rather than shown as empty files. */
  #requireReadable(parentIds: string[]): void {
    if (this.objectMode.enabled || !this.#objectLayersExist) return;
    const stored = parentIds.find((id) => this.objects.index.isObjectLayer(id));
    if (stored !== undefined) {
      throw failedPrecondition(`layer ${stored} keeps its content in the object store, which is off: ${this.objectMode.reason ?? 'not enabled'}`);
    }
  }

  async commit(ref: SnapshotRef): Promise<CommittedStorage> {
    if (ref.kind !== 'active') throw failedPrecondition(`snapshot ${ref.id} is ${ref.kind}, not active: cannot commit it`);
    // Plain mode: nothing to seal, the upper dir becomes a lower dir as it is.
    if (!this.objectMode.enabled) return { usage: await this.usage(ref) };
    let objects: Map<string, number>;
    try {
      // Marked before any file moves to the store: should this Commit fail,
      // Cleanup must still keep the objects the still active snapshot's
      // stubs use. Stubs Apply wrote were marked when it wrote them.
      const marker = this.layout.stubMarker(ref.id);
      objects = await this.objects.sealLayer(this.layout.fsDir(ref.id), this.layout.objectManifest(ref.id), () => markStubs(marker));
    } catch (err) {
      if (err instanceof MissingObjectError) throw failedPrecondition(`cannot commit snapshot ${ref.id}: ${err.message}`);
      if (isErrno(err, 'ENOENT')) throw notFound(`storage of snapshot ${ref.id} is missing`);
      throw err;
    }
    const usage = await this.usage(ref);
    // Made now, not at Prepare: only a committed layer is ever a lower dir.
    this.#linkShort(ref.id);
    return { usage, record: () => this.objects.index.addLayer(ref.id, objects) };
  }

  recordRemoval(id: string): void {
    this.objects.index.removeLayer(id);
  }

  async usage(ref: SnapshotRef): Promise<Usage> {
    try {
      return await diskUsage(this.layout.fsDir(ref.id));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(`storage of snapshot ${ref.id} is missing`);
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    rmSync(this.layout.link(id), { force: true });
    await this.#reclaim(requireId(id));
  }

  async cleanup(live: ReadonlySet<string>): Promise<string[]> {
    const reclaimed = await this.#cleanupSnapshotDirs(live);
    for (const link of await readdirIfPresent(this.layout.linksDir)) {
      if (!live.has(link)) rmSync(path.join(this.layout.linksDir, link), { force: true });
    }
    // Layers Apply wrote stubs into that are not committed yet: their
    // objects have no counts, but their stubs need them.
    const uncommitted = [...live].filter((id) => existsSync(this.layout.stubMarker(id)) && !this.objects.index.isObjectLayer(id));
    await this.objects.collectGarbage(uncommitted.map((id) => this.layout.fsDir(id)));
    return reclaimed;
  }

  async #cleanupSnapshotDirs(live: ReadonlySet<string>): Promise<string[]> {
    const names = await readdir(this.layout.snapshotsDir);
    const unclaimed = names.filter((name) => !live.has(name) && !this.#staged.has(name) && !this.#removing.has(name));
    // Every dir is renamed away synchronously, before this first awaits, so
    // nothing published meanwhile can be deleted by mistake.
    const removals = unclaimed.map((name) => this.#reclaim(name));
    const outcomes = await Promise.allSettled(removals);
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    // What failed is left under its trash name for the next cleanup.
    if (failure) throw failure.reason;
    return unclaimed;
  }

  async status(): Promise<OverlayStatus> {
    const { enabled, configured, reason } = this.objectMode;
    return {
      snapshotsDir: this.layout.snapshotsDir,
      features: this.features,
      pendingDeletions: this.#removing.size,
      objectStore: { mode: enabled ? 'on' : 'off', configured, ...(reason === undefined ? {} : { reason }), ...this.objects.index.totals() },
    };
  }

  /** `l/<id>` -> `../snapshots/<id>/fs`; one a crash left under this id is replaced. */
  #linkShort(id: string): void {
    const link = this.layout.link(id);
    const target = path.relative(this.layout.linksDir, this.layout.fsDir(id));
    try {
      symlinkSync(target, link);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      rmSync(link, { force: true });
      symlinkSync(target, link);
    }
  }

  /** Points the root's anchor at its links and links every layer dir made while object-store mode was off. */
  async linkExistingLayers(): Promise<void> {
    await mkdir(path.dirname(this.layout.linksAnchor), { recursive: true, mode: 0o755 });
    // One a crashed server left, or (hash prefixes colliding) one of another root's: this root's now.
    await rm(this.layout.linksAnchor, { force: true });
    await symlink(this.layout.linksDir, this.layout.linksAnchor);
    const linked = new Set(await readdirIfPresent(this.layout.linksDir));
    for (const name of await readdir(this.layout.snapshotsDir)) {
      if (isId(name) && !linked.has(name)) this.#linkShort(name);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#removing.values());
    if (this.objectMode.enabled) await removeLinksAnchor(this.layout);
  }

  #parentOwner(parentId: string): { uid: number; gid: number } {
    try {
      return statSync(this.layout.fsDir(parentId));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(`storage of parent snapshot ${parentId} is missing`);
      throw err;
    }
  }

  #unpublished(staged: StagedStorage): StagedDir {
    if (!(staged instanceof StagedDir)) throw invalidArgument('storage was not staged by the overlay backend');
    if (!this.#staged.has(staged.name)) {
      throw failedPrecondition(`staged storage ${staged.name} was already published or discarded`);
    }
    return staged;
  }

  #isDir(name: string, staged: StagedDir): boolean {
    try {
      const current = lstatSync(this.layout.entryPath(name));
      return current.dev === staged.dev && current.ino === staged.ino;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /** Renames entry `name` to `aside`; false when there is no such entry. */
  #setAside(name: string, aside: string): boolean {
    try {
      renameSync(this.layout.entryPath(name), this.layout.entryPath(aside));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /**
   * Takes entry `name` out of use at once (a synchronous rename, before the
   * returned promise is even awaited), then deletes it.
   */
  #reclaim(name: string): Promise<void> {
    const trash = this.#names.next(TRASH_PREFIX);
    if (!this.#setAside(name, trash)) return Promise.resolve();
    const removal = rm(this.layout.entryPath(trash), { recursive: true, force: true }).finally(() => {
      this.#removing.delete(trash);
    });
    this.#removing.set(trash, removal);
    return removal;
  }
}

/** Removes the root's links anchor, unless another server has taken it since. */
async function removeLinksAnchor(layout: OverlayLayout): Promise<void> {
  const target = await readlink(layout.linksAnchor).catch(() => undefined);
  if (target === layout.linksDir) await rm(layout.linksAnchor, { force: true });
}
