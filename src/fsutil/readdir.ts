import { readdir } from 'node:fs/promises';
import { isMissing } from './paths';

/** The names in `dir`; none when it does not exist (or is no directory). */
export async function readdirIfPresent(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}
