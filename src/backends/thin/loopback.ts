import { mkdir, open, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import * as losetup from './losetup';

/**
 * The sparse files and loop devices behind a pool strata creates itself, as
 * Docker's devicemapper driver does when no pool is given: `<dir>/data` and
 * `<dir>/metadata`.
 */
export class LoopbackFiles {
  private constructor(
    readonly dataFile: string,
    readonly metadataFile: string,
    readonly dataDevice: string,
    readonly metadataDevice: string,
  ) {}

  /** Creates the files if missing (a file never shrinks) and attaches them to loop devices. */
  static async attach(dir: string, dataSize: number, metadataSize: number): Promise<LoopbackFiles> {
    await mkdir(dir, { recursive: true });
    const dataFile = path.join(dir, 'data');
    const metadataFile = path.join(dir, 'metadata');
    await ensureSparseFile(dataFile, dataSize);
    await ensureSparseFile(metadataFile, metadataSize);
    return new LoopbackFiles(dataFile, metadataFile, await losetup.attach(dataFile), await losetup.attach(metadataFile));
  }

  async dataBytes(): Promise<number> {
    return (await stat(this.dataFile)).size;
  }

  async metadataBytes(): Promise<number> {
    return (await stat(this.metadataFile)).size;
  }

  /** Bytes the file system holding both files can still give them. */
  async backingFreeBytes(): Promise<number> {
    const fs = await statfs(path.dirname(this.dataFile));
    return fs.bavail * fs.bsize;
  }

  /** Extends the data file to `bytes` and makes its loop device see the new size. */
  async growData(bytes: number): Promise<void> {
    await growFile(this.dataFile, this.dataDevice, bytes);
  }

  /** Extends the metadata file to `bytes` and makes its loop device see the new size. */
  async growMetadata(bytes: number): Promise<void> {
    await growFile(this.metadataFile, this.metadataDevice, bytes);
  }

  async detach(): Promise<void> {
    await losetup.detach(this.dataDevice);
    await losetup.detach(this.metadataDevice);
  }
}

async function growFile(path: string, device: string, bytes: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    await file.truncate(bytes);
  } finally {
    await file.close();
  }
  await losetup.refreshCapacity(device);
}

async function ensureSparseFile(file: string, size: number): Promise<void> {
  const handle = await open(file, 'a');
  try {
    if ((await handle.stat()).size < size) await handle.truncate(size);
  } finally {
    await handle.close();
  }
}
