import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { messageLines, runCli, startServe } from './cli-process';

/** A failed start is exit code 1 and exactly one human line on stderr: no stack. */
async function startupError(args: string[]): Promise<string> {
  const result = await runCli(['serve', ...args]);
  assert.equal(result.code, 1, `expected exit code 1, stderr: ${result.stderr}`);
  const lines = messageLines(result.stderr);
  assert.equal(lines.length, 1, `expected one line, got:\n${lines.join('\n')}`);
  assert.doesNotMatch(lines[0], /\bat .+:\d+:\d+/);
  return lines[0];
}

describe('strata serve', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp('/tmp/strata-cli-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const flags = () => ['--root', path.join(dir, 'root'), '--address', path.join(dir, 's.sock')];

  test('a bad flag value names the flag', async () => {
    assert.equal(
      await startupError([...flags(), '--log-level', 'loud']),
      'strata: flag --log-level: expected one of "trace", "debug", "info", "warn", "error", got "loud"',
    );
    assert.equal(
      await startupError([...flags(), '--backend', 'zfs']),
      'strata: flag --backend: expected one of "overlay", "thin", got "zfs"',
    );
    assert.equal(
      await startupError([...flags(), '--metrics-address', 'everywhere']),
      'strata: flag --metrics-address: expected host:port like "127.0.0.1:9100", got "everywhere"',
    );
  });

  test('serve --help lists every flag, --address included', async () => {
    const result = await runCli(['serve', '--help']);
    assert.equal(result.code, 0, result.stderr);
    for (const flag of ['--address <socket>', '--root', '--backend', '--config', '--log-level', '--metrics-address', '--pid-file']) {
      assert.ok(result.stdout.includes(flag), `${flag} missing from:\n${result.stdout}`);
    }
  });

  test('a missing config file is named', async () => {
    const file = path.join(dir, 'absent.toml');
    assert.equal(await startupError([...flags(), '--config', file]), `strata: config ${file}: no such file`);
  });

  test('a bad key in the config file is named with the file', async () => {
    const file = path.join(dir, 'bad.toml');
    await writeFile(file, 'sync_remove = "yes"\n');
    assert.equal(
      await startupError([...flags(), '--config', file]),
      `strata: config ${file}: sync_remove: expected true or false, got "yes"`,
    );
  });

  test('flags override the config file', async () => {
    const file = path.join(dir, 'level.toml');
    await writeFile(file, 'log_level = "loud"\n');
    // The file's bad value is replaced by the flag, so the one problem left is the bad --backend.
    assert.equal(
      await startupError([...flags(), '--config', file, '--log-level', 'warn', '--backend', 'zfs']),
      'strata: flag --backend: expected one of "overlay", "thin", got "zfs"',
    );
  });

  test('a root that cannot be created fails on one line', async () => {
    const notADir = path.join(dir, 'file');
    await writeFile(notADir, '');
    const line = await startupError(['--root', path.join(notADir, 'root'), '--address', path.join(dir, 's2.sock')]);
    assert.match(line, /^strata: .*ENOTDIR/);
  });

  test('the config file is used, flags win over it, and SIGINT stops the server with exit 0', async () => {
    const file = path.join(dir, 'serve.toml');
    const socket = path.join(dir, 'file.sock');
    await writeFile(file, `root = "${path.join(dir, 'file-root')}"\naddress = "${socket}"\nlog_level = "warn"\n`);
    const server = await startServe(['--config', file, '--root', path.join(dir, 'flag-root')], socket);
    try {
      assert.equal(existsSync(path.join(dir, 'flag-root')), true);
      assert.equal(existsSync(path.join(dir, 'file-root')), false);
    } finally {
      assert.equal(await server.stop('SIGINT'), 0, server.stderr());
    }
    // log_level came from the file: nothing below warn is written, not even the startup record.
    const records = server
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number });
    assert.deepEqual(records.filter((r) => r.level < 40), []);
    assert.equal(existsSync(socket), false);
  });
});
