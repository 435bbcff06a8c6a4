/**
 * The file-system floor under object-store unpack: for each regular file of
 * the bench rootfs, only the system calls each mode cannot do without, with
 * no tar, no decompression and no hashing. Plain mode: create the file, write
 * its data, set owner and times. Object mode, new content: create the object,
 * write its data, set its digest xattr; then the stub: create it, set its
 * size, set the two overlay xattrs, owner and times. Object mode, content the
 * store has: look the object up and make the stub. Page cache dropped before
 * each pass, as before each unpack.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
import { DIGEST_XATTR, FANOUT_DIRS, METACOPY_XATTR, REDIRECT_XATTR } from '../../src/objects/names';
import { dropCaches, ROOTFS } from './rootfs';
import { median, printTable } from './stats';

const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
/** Data written for every file: its content does not change what the file system does. */
const DATA = Buffer.alloc(1 << 20, 0x5a);
const DIGEST = Buffer.alloc(32, 0x11);
/** An object name as long as strata's (A/ + 21 characters). */
const objectPath = (i: number) => `${FANOUT_DIRS[i % FANOUT_DIRS.length]}/${String(i).padStart(21, 'x')}`;

function regularFileSizes(dir: string, sizes: number[] = []): number[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) regularFileSizes(file, sizes);
    else if (entry.isFile()) sizes.push(fs.lstatSync(file).size);
  }
  return sizes;
}

function writeSize(fd: number, size: number): void {
  for (let written = 0; written < size; ) written += fs.writeSync(fd, DATA, 0, Math.min(DATA.length, size - written));
}

function finishFile(fd: number): void {
  fs.fchownSync(fd, 0, 0);
  fs.futimesSync(fd, 1e9, 1e9);
  fs.closeSync(fd);
}

function plainFiles(dir: string, sizes: number[]): void {
  sizes.forEach((size, i) => {
    const fd = fs.openSync(path.join(dir, `f${i}`), O_WRONLY | O_CREAT | O_EXCL, 0o644);
    writeSize(fd, size);
    finishFile(fd);
  });
}

function objectFiles(dir: string, store: string, sizes: number[], stored: boolean): void {
  sizes.forEach((size, i) => {
    const file = path.join(dir, `f${i}`);
    const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL, 0o644);
    // Empty files stay in the layer, as strata keeps them.
    if (size > 0) {
      const object = path.join(store, objectPath(i));
      if (stored) {
        fs.lstatSync(object);
      } else {
        const objectFd = fs.openSync(object, O_WRONLY | O_CREAT | O_EXCL, 0o400);
        writeSize(objectFd, size);
        setAttributeSync(object, DIGEST_XATTR, DIGEST);
        fs.closeSync(objectFd);
      }
      fs.ftruncateSync(fd, size);
      setAttributeSync(file, METACOPY_XATTR, Buffer.alloc(0));
      setAttributeSync(file, REDIRECT_XATTR, Buffer.from(`/${objectPath(i)}`));
    }
    finishFile(fd);
  });
}

function timedPass(pass: () => void): number {
  dropCaches();
  const started = process.hrtime.bigint();
  pass();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Runs the floor `runs` times in fresh dirs under `work` and prints it beside the unpack table. */
export function reportFileSystemFloor(work: string, runs: number): void {
  const sizes = regularFileSizes(ROOTFS);
  const times = { plainNew: [] as number[], objectNew: [] as number[], plainAgain: [] as number[], objectStored: [] as number[] };
  for (let run = 0; run < runs; run++) {
    const dir = fs.mkdtempSync(path.join(work, 'floor-'));
    const [plainA, plainB, objectA, objectB, store] = ['plain-a', 'plain-b', 'object-a', 'object-b', 'store'].map((name) => path.join(dir, name));
    for (const d of [plainA, plainB, objectA, objectB, ...FANOUT_DIRS.map((fanout) => path.join(store, fanout))]) fs.mkdirSync(d, { recursive: true });
    times.plainNew.push(timedPass(() => plainFiles(plainA, sizes)));
    times.objectNew.push(timedPass(() => objectFiles(objectA, store, sizes, false)));
    times.plainAgain.push(timedPass(() => plainFiles(plainB, sizes)));
    times.objectStored.push(timedPass(() => objectFiles(objectB, store, sizes, true)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const row = (label: string, plain: number[], object: number[]) =>
    [label, median(plain).toFixed(0), median(object).toFixed(0), (median(object) / median(plain)).toFixed(2)];
  console.log(`\nFile-system floor: the system calls each mode needs for the rootfs's ${sizes.length} regular files, no tar or hashing, ${runs} runs`);
  printTable([
    ['median ms', 'plain', 'object', 'object/plain'],
    row('new content (image A)', times.plainNew, times.objectNew),
    row('content the store has (image B)', times.plainAgain, times.objectStored),
  ]);
}
