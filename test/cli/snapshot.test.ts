import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { messageLines, runCli, startServe, type RunningServe } from './cli-process';

const exec = promisify(execFile);

/**
 * Every `strata snapshot` subcommand against a real `strata serve` (overlay
 * backend) on a temporary root and socket.
 */
describe('strata snapshot against a running server', () => {
  let dir: string;
  let socket: string;
  let server: RunningServe | undefined;
  const mountpoints: string[] = [];

  before(async () => {
    dir = await mkdtemp('/tmp/strata-cli-');
    socket = path.join(dir, 's.sock');
    server = await startServe(['--root', path.join(dir, 'root'), '--address', socket, '--log-level', 'warn'], socket);
  });

  after(async () => {
    for (const target of mountpoints) await exec('umount', [target]).catch(() => undefined);
    await server?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `strata snapshot ARGS` and returns stdout, failing on a non-zero exit. */
  async function strata(...args: string[]): Promise<string> {
    const result = await runCli(['--address', socket, 'snapshot', ...args]);
    assert.equal(result.code, 0, `strata snapshot ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  /** Runs `strata ARGS` (global options first) and returns stdout, failing on a non-zero exit. */
  async function runOk(...args: string[]): Promise<string> {
    const result = await runCli(['--address', socket, ...args]);
    assert.equal(result.code, 0, `strata ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  async function strataJson<T = any>(...args: string[]): Promise<T> {
    return JSON.parse(await strata(...args, '--json')) as T;
  }

  /** Runs a command that must fail, returning its one stderr line. */
  async function strataFails(...args: string[]): Promise<string> {
    const result = await runCli(['--address', socket, 'snapshot', ...args]);
    assert.equal(result.code, 1, `expected strata snapshot ${args.join(' ')} to fail; stdout: ${result.stdout}`);
    const lines = messageLines(result.stderr);
    assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
    return lines[0];
  }

  function tableRows(output: string): string[][] {
    return output
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/ {2,}/).map((cell) => cell.trim()));
  }

  test('prepare, commit and view build a chain with labels', async () => {
    const mounts = await strataJson('prepare', 'base-active', '--label', 'team=storage', '--label', 'tier=gold');
    assert.ok(Array.isArray(mounts) && mounts.length === 1, JSON.stringify(mounts));
    // A bind of its dir, or in object-store mode an overlay over an empty lower dir.
    const [mount] = mounts;
    assert.ok(mount.type === 'bind' ? path.isAbsolute(mount.source) : mount.options.some((o: string) => o.startsWith('lowerdir=/')), JSON.stringify(mount));

    const committed = await strataJson('commit', 'base', 'base-active', '--label', 'release=1');
    assert.equal(committed.name, 'base');
    assert.equal(committed.kind, 'committed');
    assert.equal(committed.parent, '');
    assert.equal(committed.labels.release, '1');
    assert.match(committed.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);

    assert.equal(await strata('prepare', 'child', 'base'), '');
    const viewMounts = await strataJson('view', 'child-view', 'base');
    assert.equal(viewMounts.length, 1);

    const info = await strataJson('info', 'child');
    assert.deepEqual([info.name, info.parent, info.kind], ['child', 'base', 'active']);
  });

  test('prepare --target prints the mount command for the new snapshot', async () => {
    const output = await strata('prepare', 'printed', '--target', '/mnt/x');
    const lines = output.trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^mount -t \S+ \S+ \/mnt\/x( -o \S+)?$/);
  });

  test('mounts prints a runnable overlay mount and --json the raw mounts', async () => {
    await strata('prepare', 'm-lower-active');
    await strata('commit', 'm-lower', 'm-lower-active');
    await strata('prepare', 'm-upper', 'm-lower');
    const target = path.join(dir, 'mnt');
    const lines = (await strata('mounts', target, 'm-upper')).trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.match(lines[0], new RegExp(`^mount -t overlay overlay ${target} -o \\S*lowerdir=\\S+`));
    const [mount] = await strataJson('mounts', target, 'm-upper');
    assert.equal(mount.type, 'overlay');
    assert.ok(mount.options.some((o: string) => o.startsWith('upperdir=')));

    // The printed command really mounts the snapshot; what is written lands in its usage.
    await mkdir(target);
    await exec('sh', ['-c', lines[0]]);
    mountpoints.push(target);
    await writeFile(path.join(target, 'data.bin'), Buffer.alloc(256 * 1024, 1));
    await exec('umount', [target]);
    mountpoints.pop();
    const [usage] = await strataJson('usage', 'm-upper');
    assert.equal(usage.key, 'm-upper');
    assert.ok(usage.size >= 256 * 1024, `size ${usage.size}`);
    assert.ok(usage.inodes >= 1, `inodes ${usage.inodes}`);
    const rows = tableRows(await strata('usage', 'm-upper'));
    assert.deepEqual(rows[0], ['KEY', 'SIZE', 'INODES']);
    assert.equal(rows[1][0], 'm-upper');
    assert.match(rows[1][1], /^\d+\.\d KiB$/);
  });

  test('usage without a key covers every snapshot', async () => {
    const names = (await strataJson<{ name: string }[]>('ls')).map((s) => s.name);
    const usages = await strataJson<{ key: string; size: number; inodes: number }[]>('usage');
    assert.deepEqual(usages.map((u) => u.key), names);
    for (const u of usages) assert.ok(Number.isInteger(u.size) && Number.isInteger(u.inodes));
  });

  test('ls prints KEY PARENT KIND and --json the full infos', async () => {
    await strata('prepare', 'ls-a');
    await strata('commit', 'ls-c', 'ls-a');
    await strata('prepare', 'ls-b', 'ls-c');
    const rows = tableRows(await strata('ls'));
    assert.deepEqual(rows[0], ['KEY', 'PARENT', 'KIND']);
    assert.deepEqual(rows.find((r) => r[0] === 'ls-b'), ['ls-b', 'ls-c', 'Active']);
    assert.deepEqual(rows.find((r) => r[0] === 'ls-c'), ['ls-c', 'Committed']);
    const all = await strataJson<{ name: string; parent: string; kind: string }[]>('ls');
    const names = all.map((s) => s.name);
    assert.deepEqual(names, [...names].sort());
    assert.deepEqual(
      all.filter((s) => s.name.startsWith('ls-')).map((s) => [s.name, s.parent, s.kind]),
      [['ls-b', 'ls-c', 'active'], ['ls-c', '', 'committed']],
    );
  });

  test('ls takes containerd\'s filters: any of them matches, commas join conditions', async () => {
    await strata('prepare', 'lf-a', '--label', 'role=x');
    await strata('commit', 'lf-c', 'lf-a', '--label', 'role=x');
    await strata('prepare', 'lf-b', 'lf-c');
    const names = async (...filters: string[]) => (await strataJson<{ name: string }[]>('ls', ...filters)).map((s) => s.name);
    assert.deepEqual(await names('name~=^lf-', 'parent==lf-c'), ['lf-b', 'lf-c']);
    assert.deepEqual(await names('name~=^lf-,kind==committed'), ['lf-c']);
    assert.deepEqual(await names('labels.role==x'), ['lf-c']);
    assert.match(await strataFails('ls', 'name~=('), /^strata: InvalidArgument: /);
  });

  test('--namespace (-n) takes containerd\'s key; without it, NotFound points at the namespaced key', async () => {
    await strata('prepare', 'default/12/my-layer');
    await strata('prepare', 'k8s.io/3/other-layer');
    assert.match(await runOk('-n', 'default', 'snapshot', 'info', 'my-layer'), /^Name: +default\/12\/my-layer$/m);
    assert.match(await runOk('snapshot', 'info', 'my-layer', '--namespace', 'default'), /^Name: +default\/12\/my-layer$/m);
    assert.deepEqual(JSON.parse(await runOk('-n', 'k8s.io', 'snapshot', 'ls', '--json')).map((s: { name: string }) => s.name), ['k8s.io/3/other-layer']);
    assert.equal(await runOk('-n', 'default', 'snapshot', 'label', 'my-layer', 'a=1'), 'a=1\n');

    assert.equal(
      await strataFails('info', 'my-layer'),
      'strata: NotFound: snapshot "my-layer" does not exist; did you mean "default/12/my-layer"? ' +
        "strata keeps containerd's snapshots as <namespace>/<n>/<key>: give -n default to use containerd's key",
    );
    const wrongNamespace = await runCli(['--address', socket, '-n', 'k8s.io', 'snapshot', 'info', 'my-layer']);
    assert.equal(wrongNamespace.code, 1);
    assert.match(wrongNamespace.stderr, /^strata: NotFound: no snapshot has containerd key "my-layer" in namespace "k8s.io"/);
  });

  test('info prints a readable block', async () => {
    await strata('prepare', 'info-a', '--label', 'k=v');
    const output = await strata('info', 'info-a');
    assert.match(output, /^Name: +info-a$/m);
    assert.match(output, /^Kind: +Active$/m);
    assert.match(output, /^ {2}k=v$/m);
  });

  test('label sets, prints and removes labels', async () => {
    await strata('prepare', 'lab', '--label', 'keep=1');
    assert.equal(await strata('label', 'lab', 'a=1', 'b=2'), 'a=1\nb=2\nkeep=1\n');
    const info = await strataJson('label', 'lab', 'a=');
    assert.deepEqual(info.labels, { b: '2', keep: '1' });
    assert.equal(await strata('label', 'lab'), 'b=2\nkeep=1\n');
    assert.match(await strataFails('label', 'lab', 'novalue'), /^strata: label "novalue": expected key=value$/);
  });

  test('tree draws parents above their children', async () => {
    await strata('prepare', 't-root-a');
    await strata('commit', 't-root', 't-root-a');
    await strata('prepare', 't-mid-a', 't-root');
    await strata('commit', 't-mid', 't-mid-a');
    await strata('prepare', 't-leaf', 't-mid');
    await strata('view', 't-view', 't-root');
    const lines = (await strata('tree')).split('\n');
    const at = lines.indexOf('\\_ t-root');
    assert.ok(at >= 0, lines.join('\n'));
    assert.deepEqual(lines.slice(at, at + 4), ['\\_ t-root', '  \\_ t-mid', '    \\_ t-leaf', '  \\_ t-view']);
    const roots = await strataJson<{ name: string; kind: string; children: any[] }[]>('tree');
    const root = roots.find((r) => r.name === 't-root');
    assert.deepEqual(root, {
      name: 't-root',
      kind: 'committed',
      children: [
        { name: 't-mid', kind: 'committed', children: [{ name: 't-leaf', kind: 'active', children: [] }] },
        { name: 't-view', kind: 'view', children: [] },
      ],
    });
  });

  test('rm removes what it can and reports the rest', async () => {
    await strata('prepare', 'rm-a');
    await strata('commit', 'rm-base', 'rm-a');
    await strata('prepare', 'rm-child', 'rm-base');
    const result = await runCli(['--address', socket, 'snapshot', 'rm', 'rm-base', 'rm-missing', '--json']);
    assert.equal(result.code, 1);
    assert.deepEqual(JSON.parse(result.stdout), { removed: [] });
    const errors = messageLines(result.stderr);
    assert.equal(errors.length, 2);
    assert.match(errors[0], /^strata: rm "rm-base": FailedPrecondition: .*child/);
    assert.match(errors[1], /^strata: rm "rm-missing": NotFound: .*rm-missing/);
    assert.equal(await strata('rm', 'rm-child', 'rm-base'), '');
    assert.match(await strataFails('info', 'rm-base'), /^strata: NotFound: snapshot "rm-base" does not exist; strata keeps containerd's snapshots as <namespace>\/<n>\/<key>: give -n NAMESPACE/);
  });

  test('server errors print as one line with their code name', async () => {
    await strata('prepare', 'dup');
    assert.match(await strataFails('prepare', 'dup'), /^strata: AlreadyExists: .*dup/);
    assert.match(await strataFails('commit', 'x', 'no-such-key'), /^strata: NotFound: .*no-such-key/);
    assert.match(
      await strataFails('prepare', 'p', '--label', 'bad'),
      /label "bad": expected key=value/,
    );
  });

  test('the address can come from $STRATA_ADDRESS', async () => {
    const result = await runCli(['snapshot', 'ls', '--json'], { STRATA_ADDRESS: socket });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Array.isArray(JSON.parse(result.stdout)));
  });

  test('a client with no server says it is unavailable', async () => {
    const result = await runCli(['--address', path.join(dir, 'nobody.sock'), 'snapshot', 'ls']);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `strata: Unavailable: cannot connect to unix://${dir}/nobody.sock: connect ENOENT ${dir}/nobody.sock\n`,
    );
  });

  test('SIGTERM closes the server, removes its socket and exits 0', async () => {
    assert.equal(await server!.stop('SIGTERM'), 0, server!.stderr());
    assert.equal(existsSync(socket), false);
    server = undefined;
  });
});
