import path from 'node:path';
import { RwLock } from '../snapshots/rw-lock';

const gates = new Map<string, RwLock>();

/**
 * The lock between this process's object writers (Apply, Commit's layer
 * seal: shared) and Cleanup's collection of unreferenced objects
 * (exclusive), per object directory. A writer that finds an object already
 * present reuses it before any count covers it; without this lock Cleanup
 * could delete it in between. Only the server writes objects: other
 * processes (`strata apply`) write plain files, which Commit adopts.
 */
export function objectWritersGate(dir: string): RwLock {
  const key = path.resolve(dir);
  let gate = gates.get(key);
  if (gate === undefined) {
    gate = new RwLock();
    gates.set(key, gate);
  }
  return gate;
}
