import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildOciImage, type LayerSpec } from '../support/oci-image';

const execFileAsync = promisify(execFile);

export interface LayerBlob {
  file: string;
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

/** Builds the layers with the OCI image builder and returns their blob files, unpacked from the image under `dir`. */
export async function layerBlobs(layers: LayerSpec[], dir: string): Promise<LayerBlob[]> {
  await fs.mkdir(dir, { recursive: true });
  const image = path.join(dir, 'image.tar');
  const built = await buildOciImage({ name: 'strata.test/layers:blobs', layers }, image);
  await execFileAsync('tar', ['-xf', image, '-C', dir]);
  return Promise.all(built.layerDigests.map(async (digest, i) => {
    const file = path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const compressed = layers[i].compression === 'gzip';
    return {
      file,
      mediaType: compressed ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
      digest,
      size: (await fs.stat(file)).size,
      diffId: built.diffIds[i],
    };
  }));
}
