/**
 * Builds OCI images offline for end-to-end tests: layers described in code or
 * taken from a directory, packed as an OCI image layout tar that
 * `ctr image import` loads and names.
 *
 * Everything is deterministic (fixed mtimes, fixed JSON key order, entries in
 * the order given or sorted for directories), so the same spec gives the same
 * digests on every run. Layer contents stream from disk to disk.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Header, type Pack } from 'tar-stream';

type Headers = Partial<Header> & Pick<Header, 'name'>;

// tar-stream's streams are streamx streams: Node's pipeline accepts them, its types do not.
const asNodeReadable = (s: Pack) => s as unknown as NodeJS.ReadableStream;
const asNodeWritable = (s: ReturnType<Pack['entry']>) => s as unknown as NodeJS.WritableStream;

/** Ownership and permissions; defaults are root:root, 0644 files, 0755 dirs. */
export interface EntryAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; defaults to 0 so digests do not depend on the clock. */
  mtime?: number;
}

/**
 * One tar entry of a layer. Paths are relative to the layer root (a leading
 * "/" is dropped). `whiteout` deletes `path` from lower layers (written as
 * `dir/.wh.name`); `opaque` hides everything below the directory `path` in
 * lower layers (written as `path/.wh..wh..opq`).
 */
export type LayerEntry =
  | (EntryAttrs & { type: 'file'; path: string; content?: string | Buffer })
  | (EntryAttrs & { type: 'file'; path: string; source: string })
  | (EntryAttrs & { type: 'dir'; path: string })
  | (EntryAttrs & { type: 'symlink'; path: string; target: string })
  | { type: 'hardlink'; path: string; target: string }
  | { type: 'whiteout'; path: string }
  | { type: 'opaque'; path: string };

export type LayerCompression = 'none' | 'gzip';

/** A layer from in-code entries or from the contents of a host directory. */
export type LayerSpec = { compression?: LayerCompression } & (
  | { entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry> }
  | { dir: string }
);

export interface OciImageSpec {
  /** Full image name, e.g. "strata.test/layers:1". */
  name: string;
  layers: LayerSpec[];
  config?: { cmd?: string[]; env?: string[] };
}

export interface BuiltOciImage {
  manifestDigest: string;
  configDigest: string;
  /** Digests of the layer blobs as stored (compressed when gzip). */
  layerDigests: string[];
  /** Digests of the uncompressed layer tars, as in the config's rootfs.diff_ids. */
  diffIds: string[];
}

const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const FIXED_TIME = new Date(0);

/** Writes an OCI image layout tar for `spec` to `outTar`. */
export async function buildOciImage(spec: OciImageSpec, outTar: string): Promise<BuiltOciImage> {
  if (!spec.name) throw new Error('buildOciImage: image name is empty');
  if (spec.layers.length === 0) throw new Error(`buildOciImage ${spec.name}: an image needs at least one layer`);

  const blobDir = await fs.mkdtemp(path.join(path.dirname(path.resolve(outTar)), '.oci-blobs-'));
  try {
    const blobs: Blob[] = [];
    const layers: LayerBlob[] = [];
    for (const layer of spec.layers) {
      const blob = await writeLayerBlob(layer, blobDir);
      layers.push(blob);
      blobs.push(blob);
    }

    const config = await writeJsonBlob(blobDir, MEDIA_TYPES.config, imageConfig(spec, layers));
    const manifest = await writeJsonBlob(blobDir, MEDIA_TYPES.manifest, {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: descriptor(config),
      layers: layers.map(descriptor),
    });
    blobs.push(config, manifest);

    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: [
        {
          ...descriptor(manifest),
          annotations: {
            // containerd's importer names the image from this annotation;
            // other OCI tools read the tag from ref.name, as containerd's exporter writes it.
            'io.containerd.image.name': spec.name,
            'org.opencontainers.image.ref.name': referenceTag(spec.name),
          },
        },
      ],
    };
    await writeLayoutTar(outTar, JSON.stringify(index), blobs);

    return {
      manifestDigest: manifest.digest,
      configDigest: config.digest,
      layerDigests: layers.map((l) => l.digest),
      diffIds: layers.map((l) => l.diffId),
    };
  } finally {
    await fs.rm(blobDir, { recursive: true, force: true });
  }
}

/**
 * A minimal runnable root file system: busybox-static's binary at /bin/busybox,
 * applet symlinks in /bin, and the directories runc expects to mount over.
 */
export function busyboxRootfsLayer(opts: { compression?: LayerCompression } = {}): LayerSpec {
  const applets = [
    'sh', 'cat', 'ls', 'echo', 'test', '[', 'stat', 'readlink', 'find', 'mkdir', 'rm', 'mv', 'cp', 'touch',
    'wc', 'head', 'tail', 'grep', 'sed', 'sort', 'sleep', 'true', 'false', 'id', 'env', 'sha256sum', 'du', 'ln',
    'chmod', 'printf', 'dd', 'mount', 'df', 'tr', 'cut', 'xargs', 'uname', 'ps', 'kill',
  ];
  const entries: LayerEntry[] = [
    ...['bin', 'dev', 'etc', 'proc', 'root', 'sys', 'tmp'].map((d): LayerEntry => ({ type: 'dir', path: d })),
    { type: 'file', path: 'bin/busybox', source: BUSYBOX_BINARY, mode: 0o755 },
    ...applets.map((a): LayerEntry => ({ type: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { type: 'file', path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { type: 'file', path: 'etc/group', content: 'root:x:0:\n' },
  ];
  return { entries, compression: opts.compression };
}

/** Installed by scripts/containerd/install.sh (Debian's busybox-static). */
const BUSYBOX_BINARY = '/bin/busybox';

interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  file: string;
}

interface LayerBlob extends Blob {
  diffId: string;
}

function descriptor(blob: Blob) {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
}

function imageConfig(spec: OciImageSpec, layers: LayerBlob[]) {
  return {
    created: FIXED_TIME.toISOString(),
    architecture: ociArchitecture(),
    os: 'linux',
    config: {
      Env: spec.config?.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: spec.config?.cmd ?? ['/bin/sh'],
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: FIXED_TIME.toISOString(), created_by: 'strata test image' })),
  };
}

function ociArchitecture(): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  const arch = names[process.arch];
  if (!arch) throw new Error(`buildOciImage: no OCI architecture name for node's ${process.arch}`);
  return arch;
}

/** The tag part of an image name ("registry:5000/repo:tag" gives "tag"), as containerd's exporter does. */
function referenceTag(name: string): string {
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  return colon >= 0 ? lastSegment.slice(colon + 1) : 'latest';
}

async function writeJsonBlob(blobDir: string, mediaType: string, value: unknown): Promise<Blob> {
  const data = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const file = path.join(blobDir, digest.slice('sha256:'.length));
  await fs.writeFile(file, data);
  return { mediaType, digest, size: data.length, file };
}

/** Streams one layer into a blob file, hashing the tar before (diff id) and after (digest) compression. */
async function writeLayerBlob(layer: LayerSpec, blobDir: string): Promise<LayerBlob> {
  const compression = layer.compression ?? 'none';
  if (compression !== 'none' && compression !== 'gzip') {
    throw new Error(`buildOciImage: unknown layer compression ${JSON.stringify(compression)}`);
  }
  const entries = 'dir' in layer ? entriesFromDirectory(layer.dir) : layer.entries;

  const tmp = path.join(blobDir, `layer-${process.hrtime.bigint()}.tmp`);
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  const blobSize = { bytes: 0 };
  const tarball = pack();

  const stages: NodeJS.ReadWriteStream[] = [hashingTap(tarHash)];
  if (compression === 'gzip') stages.push(createGzip());
  stages.push(hashingTap(blobHash, blobSize));

  await Promise.all([
    pipeline([asNodeReadable(tarball), ...stages, createWriteStream(tmp)]),
    writeEntries(tarball, entries).catch((err: unknown) => {
      tarball.destroy(err as Error);
      throw err;
    }),
  ]);

  const hex = blobHash.digest('hex');
  const file = path.join(blobDir, hex);
  await fs.rename(tmp, file);
  return {
    mediaType: compression === 'gzip' ? MEDIA_TYPES.layerGzip : MEDIA_TYPES.layer,
    digest: `sha256:${hex}`,
    size: blobSize.bytes,
    file,
    diffId: `sha256:${tarHash.digest('hex')}`,
  };
}

function hashingTap(hash: Hash, size?: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      if (size) size.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

async function writeEntries(tarball: Pack, entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>): Promise<void> {
  for await (const entry of entries) {
    await writeEntry(tarball, entry);
  }
  tarball.finalize();
}

async function writeEntry(tarball: Pack, entry: LayerEntry): Promise<void> {
  const name = layerPath(entry.path);
  switch (entry.type) {
    case 'file':
      if ('source' in entry) {
        const { size } = await fs.stat(entry.source);
        const sink = tarball.entry({ ...attrs(entry, 0o644), name, type: 'file', size });
        await pipeline(createReadStream(entry.source), asNodeWritable(sink));
        return;
      }
      return addBuffered(tarball, { ...attrs(entry, 0o644), name, type: 'file' }, entry.content ?? '');
    case 'dir':
      return addBuffered(tarball, { ...attrs(entry, 0o755), name: `${name}/`, type: 'directory' });
    case 'symlink':
      return addBuffered(tarball, { ...attrs(entry, 0o777), name, type: 'symlink', linkname: entry.target });
    case 'hardlink':
      return addBuffered(tarball, { ...attrs({}, 0o644), name, type: 'link', linkname: layerPath(entry.target) });
    case 'whiteout': {
      const dir = path.posix.dirname(name);
      const whiteout = path.posix.join(dir, `.wh.${path.posix.basename(name)}`);
      return addBuffered(tarball, { ...attrs({}, 0o644), name: whiteout, type: 'file' }, '');
    }
    case 'opaque':
      return addBuffered(tarball, { ...attrs({}, 0o644), name: `${name}/.wh..wh..opq`, type: 'file' }, '');
    default: {
      const unknown: never = entry;
      throw new Error(`buildOciImage: unknown layer entry ${JSON.stringify(unknown)}`);
    }
  }
}

function addBuffered(tarball: Pack, header: Headers, content?: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (content === undefined) tarball.entry(header, done);
    else tarball.entry(header, content, done);
  });
}

function attrs(entry: EntryAttrs, defaultMode: number): Omit<Headers, 'name'> {
  return {
    mode: entry.mode ?? defaultMode,
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    mtime: entry.mtime === undefined ? FIXED_TIME : new Date(entry.mtime * 1000),
  };
}

/** Normalises a layer path and rejects ones that would leave the layer root. */
function layerPath(p: string): string {
  const normal = path.posix.normalize(p.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (normal === '' || normal === '.' || normal === '..' || normal.startsWith('../')) {
    throw new Error(`buildOciImage: layer path ${JSON.stringify(p)} is empty or outside the layer root`);
  }
  return normal;
}

/**
 * Walks a host directory in sorted order, keeping modes and ownership; files
 * sharing an inode become hard links to the first path seen.
 */
async function* entriesFromDirectory(root: string): AsyncGenerator<LayerEntry> {
  const firstPathOfInode = new Map<string, string>();
  async function* walk(rel: string): AsyncGenerator<LayerEntry> {
    const names = (await fs.readdir(path.join(root, rel))).sort();
    for (const name of names) {
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, relPath);
      const st = await fs.lstat(abs);
      const owned = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        yield { type: 'dir', path: relPath, ...owned };
        yield* walk(relPath);
      } else if (st.isSymbolicLink()) {
        yield { type: 'symlink', path: relPath, target: await fs.readlink(abs), ...owned };
      } else if (st.isFile()) {
        const inode = `${st.dev}:${st.ino}`;
        const linked = st.nlink > 1 ? firstPathOfInode.get(inode) : undefined;
        if (linked !== undefined) {
          yield { type: 'hardlink', path: relPath, target: linked };
        } else {
          if (st.nlink > 1) firstPathOfInode.set(inode, relPath);
          yield { type: 'file', path: relPath, source: abs, ...owned };
        }
      } else {
        throw new Error(`buildOciImage: ${abs} is not a regular file, directory or symlink`);
      }
    }
  }
  yield* walk('');
}

/** Packs the image layout: oci-layout, index.json and every blob under blobs/sha256/. */
async function writeLayoutTar(outTar: string, indexJson: string, blobs: Blob[]): Promise<void> {
  const tarball = pack();
  const write = async () => {
    const dirAttrs = attrs({}, 0o755);
    await addBuffered(tarball, { ...attrs({}, 0o644), name: 'oci-layout', type: 'file' }, '{"imageLayoutVersion":"1.0.0"}');
    await addBuffered(tarball, { ...attrs({}, 0o644), name: 'index.json', type: 'file' }, indexJson);
    await addBuffered(tarball, { ...dirAttrs, name: 'blobs/', type: 'directory' });
    await addBuffered(tarball, { ...dirAttrs, name: 'blobs/sha256/', type: 'directory' });
    const seen = new Set<string>();
    for (const blob of blobs) {
      // Two identical layers share one blob.
      if (seen.has(blob.digest)) continue;
      seen.add(blob.digest);
      const sink = tarball.entry({
        ...attrs({}, 0o644),
        name: `blobs/sha256/${blob.digest.slice('sha256:'.length)}`,
        type: 'file',
        size: blob.size,
      });
      await pipeline(createReadStream(blob.file), asNodeWritable(sink));
    }
    tarball.finalize();
  };
  await Promise.all([
    pipeline(asNodeReadable(tarball), createWriteStream(outTar)),
    write().catch((err: unknown) => {
      tarball.destroy(err as Error);
      throw err;
    }),
  ]);
}
