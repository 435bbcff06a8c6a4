/**
 * README's containerd snippet, as written, on containerd 1.7: it loads
 * without "multiple differs match for platform" (which it does log without
 * the transfer service's unpack_config), and the transfer service unpacks an
 * import into strata through strata's differ.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/package-root';
import { base, top } from '../diff/fixture-layers';
import { buildOciImage } from '../support/oci-image';
import { startStrataWithContainerd, type StrataWithContainerd } from '../support/strata-with-containerd';

const IMAGE = 'strata.test/readme-config:1';
const WARNING = 'multiple differs match for platform';

/** The first TOML block of README's "containerd configuration" section. */
function readmeSnippet(): string {
  const readme = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## containerd configuration'));
  const block = /```toml\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'README has a toml block under "containerd configuration"');
  return block[1];
}

/** The snippet pointed at a test server. */
function forTest(snippet: string, strata: { socket: string; root: string }): string {
  return snippet.replaceAll('/run/strata/strata.sock', strata.socket).replaceAll('/var/lib/strata', strata.root);
}

const withoutUnpackConfig = (snippet: string) =>
  snippet.replace(/\[\[plugins\."io\.containerd\.transfer\.v1\.local"\.unpack_config\]\][^[]*/g, '');

describe("README's containerd configuration", () => {
  let dir: string;
  const pairs: StrataWithContainerd[] = [];
  const ns = `rc${randomBytes(4).toString('hex')}`;
  before(async () => {
    dir = await fs.mkdtemp('/tmp/rc-');
  });
  after(async () => {
    for (const pair of pairs) await pair.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function start(name: string, snippet: string): Promise<StrataWithContainerd> {
    const sub = path.join(dir, name);
    await fs.mkdir(sub);
    const pair = await startStrataWithContainerd(sub, ns, { containerdConfig: (strata) => forTest(snippet, strata) });
    pairs.push(pair);
    return pair;
  }

  test('without unpack_config containerd 1.7 logs the differ warning (the cause)', async () => {
    const pair = await start('a', withoutUnpackConfig(readmeSnippet()));
    assert.match(await fs.readFile(pair.containerd.logPath, 'utf8'), new RegExp(WARNING));
  });

  test('as written, containerd starts without it and the transfer service unpacks into strata', async () => {
    const pair = await start('b', readmeSnippet());
    assert.doesNotMatch(await fs.readFile(pair.containerd.logPath, 'utf8'), new RegExp(WARNING));

    const image = path.join(dir, 'image.tar');
    await buildOciImage({ name: IMAGE, layers: [base, top] }, image);
    await pair.containerd.ctrOk(['-n', ns, 'image', 'import', '--local=false', '--snapshotter', 'strata', image]);
    assert.ok((await pair.diffCalls('Apply')) >= 2, 'strata-diff applied the layers');
    const snapshots = await pair.containerd.ctrOk(['-n', ns, 'snapshot', '--snapshotter', 'strata', 'ls']);
    assert.equal(snapshots.trim().split('\n').length, 3, snapshots);
  });
});
