import type { LayerSpec } from '../support/oci-image';

/** A first layer: files, a hard link, a symlink, non-root ownership, and what the next layer deletes. */
export const base: LayerSpec = {
  compression: 'gzip',
  entries: [
    { type: 'dir', path: 'etc' },
    { type: 'file', path: 'etc/removed.txt', content: 'removed by the next layer\n' },
    { type: 'dir', path: 'data' },
    { type: 'file', path: 'data/a.txt', content: 'a\n' },
    { type: 'hardlink', path: 'data/a-link', target: 'data/a.txt' },
    { type: 'symlink', path: 'data/sym', target: 'a.txt' },
    { type: 'file', path: 'data/owned', content: 'owned\n', uid: 1000, gid: 1001, mode: 0o600 },
    { type: 'dir', path: 'data/old' },
    { type: 'file', path: 'data/old/x.txt', content: 'hidden by the opaque marker\n' },
    { type: 'dir', path: 'data/gone' },
    { type: 'file', path: 'data/gone/f.txt', content: 'deleted with its directory\n' },
  ],
};

/** Whiteouts of a file and a directory, an opaque directory, a new file. */
export const top: LayerSpec = {
  entries: [
    { type: 'whiteout', path: 'etc/removed.txt' },
    { type: 'whiteout', path: 'data/gone' },
    { type: 'dir', path: 'data/old' },
    { type: 'opaque', path: 'data/old' },
    { type: 'file', path: 'data/old/y.txt', content: 'new in the opaque directory\n' },
    { type: 'file', path: 'data/three.txt', content: 'three\n' },
  ],
};

/** A third layer: a hard-linked pair, a changed mode and owner, a symlink replaced by a file. */
export const third: LayerSpec = {
  compression: 'gzip',
  entries: [
    { type: 'dir', path: 'data', mode: 0o750, uid: 7, gid: 8 },
    { type: 'file', path: 'data/sym', content: 'a file now\n' },
    // The builder writes link entries as root 0644; containerd, and strata with it, applies a link
    // entry's mode and owner to the shared inode, so h1's own 0640 must end up as 0644 on both sides.
    { type: 'file', path: 'data/h1', content: 'pair\n', mode: 0o640 },
    { type: 'hardlink', path: 'data/h2', target: 'data/h1' },
    { type: 'dir', path: 'opt/deep/er', mode: 0o700 },
    { type: 'file', path: 'opt/deep/er/f', content: 'deep\n', uid: 3, gid: 4 },
  ],
};
