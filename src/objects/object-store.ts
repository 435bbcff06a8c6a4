import fs from 'node:fs';
import { rm } from 'node:fs/promises';
import { readdirIfPresent } from '../fsutil/readdir';
import path from 'node:path';
import { layerObjects, sealLayer } from './layer-seal';
import { ObjectFiles } from './object-files';
import type { ObjectIndex } from './object-index';
import { isObjectName } from './names';
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

  /** Stubs the layer under `root` and returns the objects it references (see sealLayer). */
  sealLayer(root: string): Promise<Map<string, number>> {
    return this.gate.shared(() => sealLayer(root, this.files));
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
