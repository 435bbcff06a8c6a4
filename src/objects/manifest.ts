/**
 * What a layer that is not committed yet says about its stubs: a marker
 * that it has some, and its object manifest, the objects its stubs name
 * with their sizes, one `<name> <size>` a line. Apply writes the manifest
 * once the objects are in the store, so Commit can count them without
 * walking the layer.
 */
import fs from 'node:fs';
import { isObjectName } from './names';

/**
 * Creates a layer's stub marker (when missing): from then on Cleanup keeps
 * the objects the layer's stubs name, though no count covers them yet.
 */
export function markStubs(marker: string): void {
  fs.closeSync(fs.openSync(marker, 'a', 0o600));
}

/** The objects (name -> size) `manifest` lists; undefined when there is none. */
export function readManifest(manifest: string): Map<string, number> | undefined {
  // Most layers have none, and a failed read costs Commit an exception (about 20 µs) where a lookup costs 2.
  if (!fs.existsSync(manifest)) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(manifest, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const objects = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [name, size] = line.split(' ');
    if (!isObjectName(name) || !/^[0-9]+$/.test(size ?? '')) throw new Error(`object manifest ${manifest} has a bad line ${JSON.stringify(line)}`);
    objects.set(name, Number(size));
  }
  return objects;
}

/**
 * Adds `objects` to the manifest, replacing the file at once: a crash
 * leaves the old manifest or the new one, never a part.
 */
export function addToManifest(manifest: string, objects: Map<string, number>): void {
  const all = new Map([...(readManifest(manifest) ?? []), ...objects]);
  const temp = `${manifest}.new`;
  fs.writeFileSync(temp, [...all].map(([name, size]) => `${name} ${size}\n`).join(''), { mode: 0o600 });
  fs.renameSync(temp, manifest);
}
