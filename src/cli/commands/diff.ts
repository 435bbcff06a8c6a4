import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Presets, SingleBar } from 'cli-progress';
import { Command } from 'commander';
import type { Change } from '../../changeset';
import { writeLayer } from '../../changeset';
import type { SnapshotsClient } from '../../client/snapshots-client';
import { strataConfigSchema } from '../../config/schema';
import { applyToMounts, DigestTap, withChanges } from '../../diff';
import type { Mount } from '../../snapshots/types';
import { withClient } from '../client';
import { humanBytes } from '../../bytes';
import { printJson, printLines } from '../output';

interface JsonFlag {
  json?: boolean;
}

/** Bytes, entries and rate on stderr while a layer is written or applied; nothing when stderr is not a terminal. */
class LayerProgress {
  private readonly bar?: SingleBar;
  private bytes = 0;
  private entries = 0;
  private readonly started = Date.now();

  constructor(label: string) {
    if (!process.stderr.isTTY) return;
    this.bar = new SingleBar(
      { stream: process.stderr, format: `${label} {done} | {entries} entries | {rate}/s`, hideCursor: true, fps: 5 },
      Presets.shades_classic,
    );
    this.bar.start(0, 0, this.payload());
  }

  private payload() {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    return { done: humanBytes(this.bytes), entries: this.entries, rate: humanBytes(Math.round(this.bytes / seconds)) };
  }

  /** Passes `source` through, counting its bytes. */
  async *countBytes(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      this.bytes += chunk.length;
      this.bar?.update(0, this.payload());
      yield chunk;
    }
  }

  /** Passes `changes` through, counting them. */
  async *countEntries(changes: AsyncIterable<Change>): AsyncGenerator<Change> {
    for await (const change of changes) {
      this.entries++;
      yield change;
    }
  }

  stop(): void {
    this.bar?.update(0, this.payload());
    this.bar?.stop();
  }
}

/**
 * Runs `use` with the mounts of `key` and of its base (`parent`, else its
 * own parent; none for a snapshot without one), as containerd's
 * rootfs.CreateDiff gets them: views made here are removed afterwards.
 */
async function withSnapshotPair<T>(
  client: SnapshotsClient,
  key: string,
  parent: string | undefined,
  use: (left: Mount[], right: Mount[]) => Promise<T>,
): Promise<T> {
  const info = await client.stat(key);
  const base = parent ?? info.parent;
  const views: string[] = [];
  const view = async (of: string) => {
    const name = `strata-cli-${process.pid}-${randomBytes(4).toString('hex')}`;
    const mounts = await client.view(name, of);
    views.push(name);
    return mounts;
  };
  try {
    const left = base === '' ? [] : await view(base);
    const right = info.kind === 'committed' ? await view(key) : await client.mounts(key);
    return await use(left, right);
  } finally {
    for (const name of views) await client.remove(name).catch(() => undefined);
  }
}

/** docker diff's letters: A added, C changed, D deleted. */
const LETTERS: Partial<Record<Change['kind'], string>> = { add: 'A', modify: 'C', delete: 'D', opaque: 'C' };

/**
 * `strata diff`, `strata apply` and `strata changes`: the differ on a
 * snapshot of a running server, run in this process (as root, on the
 * server's host) so no content store is involved.
 */
export function registerDiff(program: Command): void {
  program
    .command('diff <key> [parent]')
    .description('write the changes of a snapshot against its parent (or PARENT) as a layer tar, gzip when FILE ends in .gz')
    .requiredOption('-o, --output <file>', 'layer file to write')
    .option('--json', 'machine-readable output')
    .action((key: string, parent: string | undefined, opts: JsonFlag & { output: string }, cmd: Command) =>
      withClient(cmd, (client) =>
        withSnapshotPair(client, key, parent, (left, right) =>
          withChanges(left, right, async (changes) => {
            const progress = new LayerProgress(`diff ${key}`);
            const file = new DigestTap();
            const layer = writeLayer(progress.countEntries(changes), { compression: opts.output.endsWith('.gz') ? 'gzip' : 'none' });
            try {
              await pipeline(file.tap(progress.countBytes(layer)), createWriteStream(opts.output));
            } finally {
              progress.stop();
            }
            const written = { file: opts.output, digest: file.digest(), size: file.size };
            if (opts.json) printJson(written);
            else printLines([`${written.digest} ${humanBytes(written.size)} ${written.file}`]);
          }),
        ),
      ),
    );

  program
    .command('apply <key> <file>')
    .description('apply a layer file (tar, gzip or zstd) to an active snapshot')
    .option('--root <dir>', "the server's state directory: its overlay snapshots are written without a mount", strataConfigSchema.shape.root.parse(undefined))
    .option('--json', 'machine-readable output')
    .action((key: string, file: string, opts: JsonFlag & { root: string }, cmd: Command) =>
      withClient(cmd, async (client) => {
        const mounts = await client.mounts(key);
        const info = await stat(file);
        if (!info.isFile()) throw new Error(`${file} is not a file`);
        const progress = new LayerProgress(`apply ${key}`);
        let result;
        try {
          result = await applyToMounts(progress.countBytes(createReadStream(file)), mounts, { strataRoot: opts.root });
        } finally {
          progress.stop();
        }
        const applied = { digest: result.digest, size: result.size, entries: result.entries };
        if (opts.json) printJson(applied);
        else printLines([`${applied.digest} ${humanBytes(applied.size)} ${applied.entries} entries`]);
      }),
    );

  program
    .command('changes <key> [parent]')
    .description('list what a snapshot changed against its parent (or PARENT): A added, C changed, D deleted')
    .option('--json', 'machine-readable output')
    .action((key: string, parent: string | undefined, opts: JsonFlag, cmd: Command) =>
      withClient(cmd, (client) =>
        withSnapshotPair(client, key, parent, (left, right) =>
          withChanges(left, right, async (changes) => {
            const listed: Array<{ kind: string; path: string }> = [];
            let last: string | undefined;
            for await (const change of changes) {
              const letter = LETTERS[change.kind];
              // An opaque directory comes right after its own modification; one line per path.
              if (letter === undefined || change.path === last) continue;
              last = change.path;
              if (opts.json) listed.push({ kind: letter, path: `/${change.path}` });
              else printLines([`${letter} /${change.path}`]);
            }
            if (opts.json) printJson(listed);
          }),
        ),
      ),
    );
}
