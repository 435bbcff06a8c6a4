import fs from 'node:fs';
import path from 'node:path';
import { layerObjects } from '../../src/objects/layer-seal';

/** The objects in a strata root's object store, by name (`A/bCdE…`). */
export function storedObjects(root: string): string[] {
  const dir = path.join(root, 'objects');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((fanout) => fanout.length === 1)
    .flatMap((fanout) => fs.readdirSync(path.join(dir, fanout)).map((name) => `${fanout}/${name}`));
}

/** The objects the stubs of every snapshot dir under a strata root name. */
export async function referencedObjects(root: string): Promise<string[]> {
  const referenced = new Set<string>();
  for (const id of fs.readdirSync(path.join(root, 'snapshots'))) {
    for (const name of (await layerObjects(path.join(root, 'snapshots', id, 'fs'))).keys()) referenced.add(name);
  }
  return [...referenced];
}
