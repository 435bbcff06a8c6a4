import { chmodSync, lchownSync, lstatSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { diskUsage } from '../../fsutil/usage';
import type { Backend, NewSnapshot, StagedStorage } from '../../snapshots/backend';
import { failedPrecondition, invalidArgument, notFound } from '../../snapshots/errors';
import type { Mount, SnapshotRef, Usage } from '../../snapshots/types';
import type { OverlayFeatures } from './features';
import { type OverlayLayout, requireId } from './layout';
import { overlayMounts } from './mounts';

/** Modes containerd gives these dirs; set explicitly so the umask cannot narrow them. */
const SNAPSHOT_DIR_MODE = 0o700;
const FS_DIR_MODE = 0o755;
const WORK_DIR_MODE = 0o711;

const STAGED_PREFIX = 'new-';
const TRASH_PREFIX = 'trash-';

/** mkdir's mode passes through the umask; the chmod sets it exactly. */
function mkdirWithMode(dir: string, mode: number): void {
  mkdirSync(dir);
  chmodSync(dir, mode);
}

const randomName = (prefix: string) => prefix + randomBytes(8).toString('hex');

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

/** What `strata status` shows of an overlay backend. */
export interface OverlayStatus {
  snapshotsDir: string;
  features: OverlayFeatures;
  /** Removed snapshots whose directories are still being deleted. */
  pendingDeletions: number;
}

export class OverlayBackend implements Backend {
  readonly name = 'overlay';
  /** Names of staged dirs not yet published: cleanup must not take them. */
  readonly #staged = new Set<string>();
  /** Trash dirs being deleted, and the deletions, so cleanup skips them and close waits for them. */
  readonly #removing = new Map<string, Promise<void>>();

  constructor(
    readonly layout: OverlayLayout,
    readonly features: OverlayFeatures,
  ) {}

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
    const owner = snapshot.parentIds.length > 0 ? this.#parentOwner(snapshot.parentIds[0]) : undefined;

    // Claimed before the dir exists, so a cleanup running meanwhile skips it.
    const name = randomName(STAGED_PREFIX);
    this.#staged.add(name);
    const dir = this.layout.entryPath(name);
    try {
      mkdirWithMode(dir, SNAPSHOT_DIR_MODE);
      const fsDir = path.join(dir, 'fs');
      mkdirWithMode(fsDir, FS_DIR_MODE);
      // As containerd: the new upper dir's root belongs to whoever owns the parent's.
      if (owner) lchownSync(fsDir, owner.uid, owner.gid);
      if (snapshot.kind === 'active') mkdirWithMode(path.join(dir, 'work'), WORK_DIR_MODE);
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
    const target = this.layout.entryPath(id);
    // Storage under an id no committed metadata refers to: left by a crash
    // between publish and commit. Set aside for cleanup.
    this.#setAside(id, randomName(TRASH_PREFIX));
    renameSync(this.layout.entryPath(dir.name), target);
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
    return overlayMounts(this.layout, this.features, ref);
  }

  async commit(ref: SnapshotRef): Promise<Usage> {
    if (ref.kind !== 'active') throw failedPrecondition(`snapshot ${ref.id} is ${ref.kind}, not active: cannot commit it`);
    // Nothing to seal: the upper dir becomes a lower dir as it is.
    return this.usage(ref);
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
    await this.#reclaim(requireId(id));
  }

  async cleanup(live: ReadonlySet<string>): Promise<string[]> {
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
    return { snapshotsDir: this.layout.snapshotsDir, features: this.features, pendingDeletions: this.#removing.size };
  }

  async close(): Promise<void> {
    await Promise.all(this.#removing.values());
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
    const trash = randomName(TRASH_PREFIX);
    if (!this.#setAside(name, trash)) return Promise.resolve();
    const removal = rm(this.layout.entryPath(trash), { recursive: true, force: true }).finally(() => {
      this.#removing.delete(trash);
    });
    this.#removing.set(trash, removal);
    return removal;
  }
}
