import fs from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { readdirIfPresent } from '../fsutil/readdir';
import { layerObjects, sealLayer } from './layer-seal';
import { readManifest } from './manifest';
import { isObjectName } from './names';
import { ObjectFiles } from './object-files';
import type { ObjectIndex } from './object-index';
import { objectWritersGate } from './writers-gate';

/** Runs `operation` inside one metadata transaction (MetaStore.transact). */
export type Transact = <T>(operation: () => T) => Promise<T>;

/**
 * The shared store of file contents: objects on disk, reference counts in
 * LMDB. Objects are added by Apply and Commit, counted when the layers
 * referencing them are committed, uncounted when those are removed, and
 * deleted by Cleanup only.
 */
export class ObjectStore {
  readonly files: ObjectFiles;
  private readonly gate;

  constructor(
    readonly dir: string,
    readonly index: ObjectIndex,
    private readonly transact: Transact,
  ) {
    this.files = new ObjectFiles(dir);
    this.gate = objectWritersGate(dir);
  }

  /**
   * The objects the layer under `root` references (name -> size), its
   * regular files moved into the store first (see sealLayer). A layer only
   * strata's Apply wrote lists them in its `manifest`, so it is not walked;
   * files written into it otherwise since then stay as they are.
   */
  sealLayer(root: string, manifest: string, beforeAdopting: () => void): Promise<Map<string, number>> {
    return this.gate.shared(async () => {
      // A manifest is written once its objects are in the store, and Cleanup
      // cannot run meanwhile: what it lists is there.
      return readManifest(manifest) ?? sealLayer(root, this.files, beforeAdopting);
    });
  }

  /**
   * Deletes every object no committed layer references and no stub in
   * `uncommittedRoots` (layers written by Apply, not committed yet) points
   * to, and every temporary file. Returns how many objects it deleted.
   */
  collectGarbage(uncommittedRoots: string[]): Promise<number> {
    return this.gate.exclusive(async () => {
      const kept = new Set<string>();
      for (const root of uncommittedRoots) {
        for (const name of (await layerObjects(root)).keys()) kept.add(name);
      }
      const candidates = new Set([...(await this.listObjects()), ...this.index.unreferenced()].filter((name) => !kept.has(name)));
      const doomed = await this.transact(() => this.index.forgetUnreferenced(candidates));
      for (const name of doomed) fs.rmSync(this.files.objectPath(name), { force: true });
      // No writer holds the gate: whatever is incoming was left by a crash.
      await rm(this.files.tempDir, { recursive: true, force: true });
      return doomed.length;
    });
  }

  /** Every object on disk. */
  private async listObjects(): Promise<string[]> {
    const names: string[] = [];
    for (const fanout of await readdirIfPresent(this.dir)) {
      for (const entry of await readdirIfPresent(path.join(this.dir, fanout))) {
        const name = `${fanout}/${entry}`;
        if (isObjectName(name)) names.push(name);
      }
    }
    return names;
  }
}
