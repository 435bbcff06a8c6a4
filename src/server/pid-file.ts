import fs from 'node:fs/promises';
import path from 'node:path';
import { replaceFile } from '../fsutil/replace-file';

/**
 * Writes this process's pid to `file` (replacing one a dead server left) and
 * returns what removes it. Written only once the server is serving, so a
 * pid found there is a server that started. Renamed into place, so a reader
 * never finds it empty.
 */
export async function writePidFile(file: string): Promise<() => Promise<void>> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await replaceFile(file, `${process.pid}\n`);
  return async () => {
    // Another server may have taken the file over since; its pid stays.
    const owner = await fs.readFile(file, 'utf8').catch(() => '');
    if (owner.trim() === String(process.pid)) await fs.rm(file, { force: true });
  };
}
