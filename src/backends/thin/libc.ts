import koffi from 'koffi';
import { getSystemErrorName } from 'node:util';

/**
 * The two C library calls Node.js has no binding for, through koffi's FFI:
 * ioctl(2) for device-mapper requests and mknod(2) for the /dev/mapper nodes.
 * Loaded on first use, so only a thin backend pays for it.
 */
export interface Libc {
  /** Runs on a worker thread (a request may wait for I/O, as a suspend's flush does); errno 0 means success. */
  ioctl(fd: number, request: number, buffer: Buffer): Promise<{ errno: number }>;
  mknodBlockOrChar(path: string, kind: 'block' | 'char', mode: number, major: number, minor: number): void;
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

let loaded: Libc | undefined;

export function libc(): Libc {
  loaded ??= loadLibc();
  return loaded;
}

function loadLibc(): Libc {
  const library = koffi.load('libc.so.6');
  const ioctl = library.func('int ioctl(int fd, unsigned long request, void *arg)');
  const mknod = library.func('int mknod(const char *path, uint32_t mode, uint64_t dev)');
  return {
    ioctl(fd, request, buffer) {
      return new Promise((resolve, reject) => {
        ioctl.async(fd, request, buffer, (err: unknown, result: number) => {
          if (err) reject(err);
          // koffi hands the worker thread's errno to this callback.
          else resolve({ errno: result === -1 ? koffi.errno() : 0 });
        });
      });
    },
    mknodBlockOrChar(path, kind, mode, major, minor) {
      const type = kind === 'block' ? S_IFBLK : S_IFCHR;
      if (mknod(path, type | mode, makedev(major, minor)) === -1) {
        const code = getSystemErrorName(-koffi.errno());
        throw Object.assign(new Error(`mknod ${path} failed: ${code}`), { code, syscall: 'mknod', path });
      }
    },
  };
}

/** glibc's makedev: dev_t as user space encodes it. */
export function makedev(major: number, minor: number): bigint {
  const maj = BigInt(major);
  const min = BigInt(minor);
  return ((maj & 0xfffn) << 8n) | ((maj & ~0xfffn) << 32n) | (min & 0xffn) | ((min & ~0xffn) << 12n);
}
