/**
 * The minbase rootfs as one layer (tar and gzip, built once into the bench
 * cache) and a one-layer OCI image archive around it, for benchmarks that
 * have containerd unpack the same bytes strata does.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { compareTrees } from '../../src/changeset/compare';
import { writeLayer } from '../../src/changeset/writer';
import { CACHE, ensureRootfs, ROOTFS, sh } from './rootfs';

export const OCI = {
  layout: '{"imageLayoutVersion":"1.0.0"}',
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: { tar: 'application/vnd.oci.image.layer.v1.tar', gz: 'application/vnd.oci.image.layer.v1.tar+gzip' },
};

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** The rootfs as a layer, uncompressed and gzip, each written once. */
export async function minbaseLayers(): Promise<{ tar: string; gz: string }> {
  ensureRootfs();
  const tar = path.join(CACHE, 'layer.tar');
  const gz = path.join(CACHE, 'layer.tar.gz');
  for (const [file, compression] of [[tar, 'none'], [gz, 'gzip']] as const) {
    if (fs.existsSync(file)) continue;
    const empty = fs.mkdtempSync(path.join(CACHE, 'empty-'));
    try {
      await pipeline(writeLayer(compareTrees(empty, ROOTFS), { compression }), fs.createWriteStream(`${file}.partial`));
      fs.renameSync(`${file}.partial`, file);
    } finally {
      fs.rmdirSync(empty);
    }
  }
  return { tar, gz };
}

/**
 * A one-layer OCI image archive holding exactly `layer` (not a re-packed
 * copy, so containerd unpacks the same bytes): the layout is written around
 * a hard link to the blob and packed with tar, streaming. Built once beside
 * the layer; returns the archive and the manifest's digest.
 */
export async function minbaseImage(layer: string, mediaType: string, diffId: string, name: string): Promise<{ archive: string; manifest: string }> {
  const archive = `${layer}.oci.tar`;
  const manifestFile = `${archive}.manifest`;
  if (fs.existsSync(archive) && fs.existsSync(manifestFile)) return { archive, manifest: fs.readFileSync(manifestFile, 'utf8') };
  const dir = fs.mkdtempSync(path.join(path.dirname(layer), 'oci-'));
  const blobs = path.join(dir, 'blobs/sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const blob = (data: string) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    fs.writeFileSync(path.join(blobs, digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const layerDigest = await sha256File(layer);
  fs.linkSync(layer, path.join(blobs, layerDigest.slice(7)));
  const config = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2, mediaType: OCI.manifest,
    config: { mediaType: OCI.config, ...config },
    layers: [{ mediaType, digest: layerDigest, size: fs.statSync(layer).size }],
  }));
  fs.writeFileSync(path.join(dir, 'oci-layout'), OCI.layout);
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: OCI.index,
    manifests: [{ mediaType: OCI.manifest, ...manifest, annotations: { 'io.containerd.image.name': name } }],
  }));
  sh('tar', ['-cf', archive, '-C', dir, '.']);
  fs.rmSync(dir, { recursive: true });
  fs.writeFileSync(manifestFile, manifest.digest);
  return { archive, manifest: manifest.digest };
}
