import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `data` to `file` through a temporary file beside it and a rename, so
 * a reader finds the old content or the new, never a part. On failure the
 * temporary file is removed and the error thrown.
 */
export async function replaceFile(file: string, data: string, mode = 0o644): Promise<void> {
  const staging = `${file}.${process.pid}`;
  try {
    await writeFile(staging, data, { mode });
    await rename(staging, file);
  } catch (err) {
    await rm(staging, { force: true });
    throw err;
  }
}
