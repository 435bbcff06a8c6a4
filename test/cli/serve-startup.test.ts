/**
 * Start-up failures of a real `strata serve` process: each must exit 1
 * promptly with one line naming what is wrong, and leave nothing behind (no
 * socket, no staging socket, no pid file, the root's lock released).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/free-port';
import { CLI, messageLines, startServe, type CliResult } from './cli-process';

/** A start that does not end by itself within this long is the hang this suite guards against. */
const EXIT_WITHIN_MS = 5_000;

/** Runs `strata serve ARGS`; a process still running after EXIT_WITHIN_MS is killed and reported as code null. */
/** What a serve that exits leaves: text only, it writes no binary output. */
type ServeResult = Omit<CliResult, 'stdoutBytes'>;

async function serveUntilExit(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServeResult> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const hung = setTimeout(() => child.kill('SIGKILL'), EXIT_WITHIN_MS);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(hung);
  return { code, stdout, stderr };
}

/** The one human line of a failed start. */
function failureLine(result: ServeResult): string {
  assert.equal(result.code, 1, `expected exit code 1 within ${EXIT_WITHIN_MS} ms, stderr: ${result.stderr}`);
  const lines = messageLines(result.stderr);
  assert.equal(lines.length, 1, `expected one line, got:\n${lines.join('\n')}`);
  return lines[0];
}

describe('strata serve start-up failures', () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp('/tmp/strata-start-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A fresh root and an empty socket directory per case, so leftovers are easy to see. */
  async function place() {
    const base = path.join(dir, `c${++n}`);
    const sockets = path.join(base, 'run');
    await mkdir(sockets, { recursive: true });
    const root = path.join(base, 'root');
    const address = path.join(sockets, 's.sock');
    return { base, root, address, sockets, flags: ['--root', root, '--address', address, '--log-level', 'warn'] };
  }

  /** Nothing in the socket directory, and the root free for the next server. */
  async function assertNothingLeft(p: { root: string; address: string; sockets: string }) {
    assert.deepEqual(await readdir(p.sockets), [], 'no socket or staging socket left');
    const next = await startServe(['--root', p.root, '--address', p.address, '--log-level', 'warn'], p.address);
    assert.equal(await next.stop(), 0, next.stderr());
  }

  test('an unknown socket_group exits at once, names the group and leaves no socket', async () => {
    const p = await place();
    const config = path.join(p.base, 'group.toml');
    await writeFile(config, 'socket_group = "nosuchgroup"\n');
    const line = failureLine(await serveUntilExit([...p.flags, '--config', config]));
    assert.equal(line, 'strata: socket group "nosuchgroup" does not exist in /etc/group');
    await assertNothingLeft(p);
  });

  test('a metrics port in use names metrics_address and undoes the start', async () => {
    const p = await place();
    const port = await freePort();
    const taken = net.createServer().listen(port, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const line = failureLine(await serveUntilExit([...p.flags, '--metrics-address', `127.0.0.1:${port}`]));
      assert.match(line, new RegExp(`^strata: metrics_address 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      taken.close();
    }
    await assertNothingLeft(p);
  });

  test('a failure after the socket is live removes it again (pid file that cannot be written)', async () => {
    const p = await place();
    const line = failureLine(await serveUntilExit([...p.flags, '--pid-file', '/proc/strata-test.pid']));
    assert.match(line, /^strata: .*\/proc\/strata-test\.pid/);
    await assertNothingLeft(p);
  });

  test('a missing program is named with its Debian package before anything is created', async () => {
    const p = await place();
    const emptyPath = path.join(p.base, 'empty-bin');
    await mkdir(emptyPath);
    const line = failureLine(await serveUntilExit(p.flags, { ...process.env, PATH: emptyPath }));
    assert.match(line, /^strata: not found on PATH: mount \(Debian package 'mount'\), umount \(Debian package 'mount'\), /);
    assert.match(line, /tar \(Debian package 'tar'\)/);
    assert.match(line, /; install with: apt-get install mount( \w+)* tar/);
    assert.equal(existsSync(p.root), false, 'the root was not created');
    assert.deepEqual(await readdir(p.sockets), []);
  });

  test('--pid-file holds the pid while serving and is removed on SIGTERM', async () => {
    const p = await place();
    const pidFile = path.join(p.base, 'pid', 'strata.pid');
    const server = await startServe([...p.flags, '--pid-file', pidFile], p.address);
    try {
      // Written once the socket is live, so it may follow the first accepted connection by a moment.
      const deadline = Date.now() + 5_000;
      while (!existsSync(pidFile) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(await readFile(pidFile, 'utf8'), `${server.child.pid}\n`);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
    assert.equal(existsSync(pidFile), false);
  });
});
