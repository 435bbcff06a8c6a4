import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load';
import type { StrataConfigInput } from '../../src/config/schema';
import { thinConfigSchema } from '../../src/backends/thin/config';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'strata-config-'));
});
after(() => rm(dir, { recursive: true, force: true }));

let fileCount = 0;
async function configFile(toml: string): Promise<string> {
  const file = path.join(dir, `config-${fileCount++}.toml`);
  await writeFile(file, toml);
  return file;
}

/** Loads `toml` and returns the ConfigError message it must fail with. */
async function errorFor(toml: string, overrides: Partial<StrataConfigInput> = {}): Promise<string> {
  const file = await configFile(toml);
  const err = await loadConfig({ file, overrides }).then(
    () => assert.fail(`expected ${JSON.stringify(toml)} to be rejected`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
  assert.ok(!err.message.includes('\n'), 'the message must be one line');
  return err.message.replaceAll(`config ${file}: `, 'config FILE: ');
}

describe('loadConfig', () => {
  test('without a file every key has its default', async () => {
    assert.deepEqual(await loadConfig({ overrides: {} }), {
      root: '/var/lib/strata',
      address: '/run/strata/strata.sock',
      backend: 'overlay',
      log_level: 'info',
      sync_remove: false,
      diff: { containerd_address: '/run/containerd/containerd.sock', namespace: 'default' },
      overlay: { object_store: 'auto' },
      thin: thinConfigSchema.parse({}),
    });
  });

  test('reads every key from the file', async () => {
    const file = await configFile(`
root = "/srv/strata"
address = "/run/s.sock"
backend = "thin"
log_level = "debug"
socket_group = "docker"
sync_remove = true
metrics_address = "127.0.0.1:9100"

[diff]
containerd_address = "/run/c.sock"
namespace = "k8s.io"

[overlay]
object_store = "off"

[thin]
pool_name = "strata-pool"
base_image_size = "20GB"
`);
    const config = await loadConfig({ file, overrides: {} });
    assert.equal(config.root, '/srv/strata');
    assert.equal(config.address, '/run/s.sock');
    assert.equal(config.backend, 'thin');
    assert.equal(config.log_level, 'debug');
    assert.equal(config.socket_group, 'docker');
    assert.equal(config.sync_remove, true);
    assert.equal(config.metrics_address, '127.0.0.1:9100');
    assert.deepEqual(config.diff, { containerd_address: '/run/c.sock', namespace: 'k8s.io' });
    assert.equal(config.overlay.object_store, 'off');
    assert.equal(config.thin.pool_name, 'strata-pool');
    assert.equal(config.thin.base_image_size, 20_000_000_000);
  });

  test('a numeric gid is a socket group too', async () => {
    const config = await loadConfig({ file: await configFile('socket_group = 998'), overrides: {} });
    assert.equal(config.socket_group, 998);
  });

  test('overrides win over the file, key by key, and undefined overrides are ignored', async () => {
    const file = await configFile(`
root = "/srv/file"
log_level = "warn"
[diff]
namespace = "from-file"
containerd_address = "/run/file.sock"
`);
    const config = await loadConfig({
      file,
      overrides: { root: '/srv/flag', log_level: undefined, diff: { namespace: 'from-flag' } },
    });
    assert.equal(config.root, '/srv/flag');
    assert.equal(config.log_level, 'warn');
    assert.deepEqual(config.diff, { namespace: 'from-flag', containerd_address: '/run/file.sock' });
  });

  test('a missing file is named in the error', async () => {
    const file = path.join(dir, 'absent.toml');
    await assert.rejects(loadConfig({ file, overrides: {} }), {
      name: 'ConfigError',
      message: `config ${file}: no such file`,
    });
  });

  test('a TOML syntax error gives file, line and column', async () => {
    assert.match(await errorFor('root = "/x"\nlog_level = \n'), /^config FILE: line 2, column \d+: .+/);
  });
});

describe('loadConfig validation names the bad key', () => {
  const cases: [string, string][] = [
    ['root = "relative/dir"', 'config FILE: root: expected an absolute path, got "relative/dir"'],
    ['root = 5', 'config FILE: root: expected a string, got 5'],
    ['address = "run/s.sock"', 'config FILE: address: expected an absolute path, got "run/s.sock"'],
    [
      `address = "/${'a'.repeat(120)}.sock"`,
      `config FILE: address: expected a unix socket path of at most 107 bytes, got "/${'a'.repeat(120)}.sock"`,
    ],
    ['backend = "zfs"', 'config FILE: backend: expected one of "overlay", "thin", got "zfs"'],
    [
      'log_level = "loud"',
      'config FILE: log_level: expected one of "trace", "debug", "info", "warn", "error", got "loud"',
    ],
    ['socket_group = ""', 'config FILE: socket_group: expected a group name or a numeric gid, got ""'],
    ['socket_group = 1.5', 'config FILE: socket_group: expected a group name or a numeric gid, got 1.5'],
    ['socket_group = -1', 'config FILE: socket_group: expected a group name or a numeric gid, got -1'],
    ['socket_group = true', 'config FILE: socket_group: expected a group name or a numeric gid, got true'],
    ['sync_remove = "yes"', 'config FILE: sync_remove: expected true or false, got "yes"'],
    ['metrics_address = "9100"', 'config FILE: metrics_address: expected host:port like "127.0.0.1:9100", got "9100"'],
    [
      'metrics_address = "localhost:99999"',
      'config FILE: metrics_address: expected host:port like "127.0.0.1:9100", got "localhost:99999"',
    ],
    ['diff = 3', 'config FILE: diff: expected a table, got 3'],
    ['[diff]\ncontainerd_address = "c.sock"', 'config FILE: diff.containerd_address: expected an absolute path, got "c.sock"'],
    ['[diff]\nnamespace = ""', 'config FILE: diff.namespace: must not be empty, got ""'],
    ['[overlay]\nobject_store = "yes"', 'config FILE: overlay.object_store: expected one of "auto", "on", "off", got "yes"'],
    [
      '[thin]\nbase_image_size = "ten"',
      'config FILE: thin.base_image_size: expected a size like "10GB", "512MiB" or a number of bytes, got "ten"',
    ],
    ['thin = "big"', 'config FILE: thin: expected a table, got "big"'],
  ];
  for (const [toml, expected] of cases) {
    test(expected.slice('config FILE: '.length), async () => {
      assert.equal(await errorFor(toml), expected);
    });
  }

  test('unknown keys are rejected at the top level and inside tables', async () => {
    assert.equal(await errorFor('roots = "/x"'), 'config FILE: roots: unknown key');
    assert.equal(await errorFor('[diff]\nnamespaces = "x"'), 'config FILE: diff.namespaces: unknown key');
    assert.equal(await errorFor('[metrics]\naddress = "x"'), 'config FILE: metrics: unknown key');
    assert.equal(await errorFor('[thin]\npool = "x"'), 'config FILE: thin.pool: unknown key');
    assert.equal(await errorFor('[overlay]\nobjects = "on"'), 'config FILE: overlay.objects: unknown key');
  });

  test('every problem is reported, separated by "; "', async () => {
    assert.equal(
      await errorFor('backend = "zfs"\nsync_remove = 1'),
      'config FILE: backend: expected one of "overlay", "thin", got "zfs"; config FILE: sync_remove: expected true or false, got 1',
    );
  });

  test('a bad override is named as the flag it came from', async () => {
    assert.equal(
      await errorFor('log_level = "info"', { log_level: 'loud' as never, metrics_address: 'x' }),
      'flag --log-level: expected one of "trace", "debug", "info", "warn", "error", got "loud"; flag --metrics-address: expected host:port like "127.0.0.1:9100", got "x"',
    );
  });
});
