/**
 * Applies a layer stream to a directory. The work is split over two
 * threads so that they overlap: this one reads, decompresses and hashes the
 * stream (the DiffID) and hands the tar bytes on; a worker thread writes the
 * entries with synchronous system calls (see unpacker.ts), which keeps this
 * thread's event loop free for everything else the process serves. A ring
 * of shared-memory slots carries the bytes between the two (byte-ring.ts).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { ChangesetThread } from './changeset-thread';
import { decompressed } from './compression';

export type ApplyMode = 'directory' | 'overlay-upper';

export interface ApplyOptions {
  mode: ApplyMode;
  /** overlay-upper mode: write user.overlay.opaque instead of trusted.overlay.opaque. */
  userxattr?: boolean;
  /**
   * overlay-upper mode: the lower layers, top first. A directory the layer
   * implies without listing it takes the mode, owner and mtime it has there.
   */
  lowerDirs?: string[];
  /**
   * The target is strata's own storage, which overlayfs reads: a layer's
   * `trusted.overlay.*` / `user.overlay.*` xattrs are stored escaped, as the
   * kernel stores them when set through a mount, so a layer can never set
   * overlay's own markers (a redirect into another image's content, say).
   */
  escapeOverlayXattrs?: boolean;
  /**
   * Object-store mode: regular files' content goes to the object directory
   * `dir` and the target gets stubs (see objects/object-files.ts). `marker`
   * is created before the first object is written: it tells Cleanup that
   * this not yet committed snapshot holds stubs whose objects it must keep.
   * `manifest` gets, once the layer is written, the objects its stubs name
   * (added to those of earlier applies), so Commit need not walk the layer.
   */
  objects?: { dir: string; marker: string; manifest: string };
  /** Bound on one PAX header or GNU long name (default 1 MiB, as Go's archive/tar). */
  maxMetadataSize?: number;
  /**
   * The sha256 digest of the stream as given, which the caller checks
   * itself: when the stream is an uncompressed tar, that is the DiffID, and
   * it is not hashed a second time.
   */
  streamDigest?: string;
  /**
   * A counter (over a SharedArrayBuffer) the apply thread keeps at the
   * number of entries it has begun to write, for a progress display while
   * it runs, or to tell afterwards whether a failed apply touched the target.
   */
  entriesStarted?: Int32Array;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar (the layer's DiffID). */
  digest: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  entries: number;
}

/**
 * Applies a layer (tar, gzip or zstd, recognised from its first bytes) to
 * `target`. On error the target is left as it is for the caller to discard;
 * nothing writes to it any more once this returns.
 */
export async function applyLayer(stream: AsyncIterable<Buffer>, target: string, opts: ApplyOptions): Promise<ApplyResult> {
  const root = await fsp.realpath(target);
  const thread = ChangesetThread.acquire();
  const outcome = thread.startApply({ root, opts });
  // Observed below or after an abort; never unhandled meanwhile.
  outcome.catch(() => undefined);
  const hash = createHash('sha256');
  let hashed = true;
  let size = 0;
  try {
    for await (const chunk of decompressed(stream, (kind) => (hashed = !(kind === 'none' && opts.streamDigest?.startsWith('sha256:'))))) {
      if (hashed) hash.update(chunk);
      size += chunk.length;
      await thread.write(chunk);
      // A thread that finished early has failed: its outcome says why.
      if (thread.finished) break;
    }
    if (!thread.finished) thread.end();
  } catch (err) {
    // The stream failed: let the thread stop cleanly before reporting it.
    if (!thread.finished) thread.abort();
    await outcome.catch(() => undefined);
    await thread.release(false);
    throw err;
  }
  let entries: number;
  try {
    entries = await outcome;
  } catch (err) {
    await thread.release(false);
    throw err;
  }
  await thread.release(true);
  return { digest: hashed ? `sha256:${hash.digest('hex')}` : opts.streamDigest!, size, entries };
}
