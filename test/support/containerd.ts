/**
 * A private containerd 1.7 for end-to-end tests: its own root, state, socket
 * and config, next to (and never touching) any system containerd.
 *
 * Shim sockets and fifos still live under /run/containerd, shared with every
 * other containerd on the host, so each instance works in its own namespace
 * (`namespace`, used by `ctr` unless the args name another).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'smol-toml';
import { scaledMs } from './time-scale';

const execFileAsync = promisify(execFile);

export interface ProxyPlugin {
  name: string;
  type: 'snapshot' | 'diff';
  /** Unix socket path of the plugin's gRPC server. */
  address: string;
  exports?: Record<string, string>;
}

export interface StartContainerdOptions {
  /** Working directory for root, state, socket, config and log; created if missing, removed by stop(). */
  dir: string;
  proxyPlugins?: ProxyPlugin[];
  /** Differ plugin names in the order containerd tries them, e.g. ["strata", "walking"]. */
  diffDefault?: string[];
  /** Raw TOML appended to the generated config (must not repeat its tables). */
  extraConfig?: string;
}

export interface CtrResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface CtrOptions {
  input?: string | Buffer;
  /** Default 60 s; a ctr that runs longer is killed and the call rejects. */
  timeoutMs?: number;
}

export interface Containerd {
  /** containerd's gRPC socket path. */
  address: string;
  /** A namespace unique to this instance; `ctr` uses it unless the args pass `-n`. */
  namespace: string;
  /** containerd's own log (debug level). */
  logPath: string;
  /** Runs the 1.7 `ctr` against this containerd; never throws for a non-zero exit. */
  ctr(args: string[], opts?: CtrOptions): Promise<CtrResult>;
  /** Like ctr() but returns stdout, and throws with stderr and containerd's log tail on a non-zero exit. */
  ctrOk(args: string[], opts?: CtrOptions): Promise<string>;
  /** Stops containerd, kills its leftover shims, unmounts everything under `dir` and removes it. */
  stop(): Promise<void>;
}

const SOCKET_PATH_MAX = 107;
const START_TIMEOUT_MS = scaledMs(20_000);
const STOP_TIMEOUT_MS = scaledMs(10_000);
/** Where the runc shim keeps container state, per namespace (shared by every containerd on the host). */
const RUNC_STATE_ROOT = '/run/containerd/runc';

let installed: Promise<string> | undefined;

/** Runs scripts/containerd/install.sh once per process; resolves to the directory of the 1.7 binaries. */
export function ensureContainerd(): Promise<string> {
  installed ??= (async () => {
    const script = path.join(repoRoot(), 'scripts', 'containerd', 'install.sh');
    try {
      const { stdout } = await execFileAsync(script, [], { maxBuffer: 16 * 1024 * 1024 });
      const binDir = stdout.trim().split('\n').pop() ?? '';
      if (!existsSync(path.join(binDir, 'containerd'))) {
        throw new Error(`install.sh printed ${JSON.stringify(stdout)}, not a directory holding containerd`);
      }
      return binDir;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`${script} failed: ${(err as Error).message}\n${stderr}`);
    }
  })();
  return installed;
}

export async function startContainerd(opts: StartContainerdOptions): Promise<Containerd> {
  const binDir = await ensureContainerd();
  const dir = path.resolve(opts.dir);
  const address = path.join(dir, 'containerd.sock');
  if (Buffer.byteLength(`${address}.ttrpc`) > SOCKET_PATH_MAX) {
    throw new Error(`startContainerd: socket path ${address}.ttrpc is longer than ${SOCKET_PATH_MAX} bytes; use a shorter dir`);
  }
  const names = new Set<string>();
  for (const plugin of opts.proxyPlugins ?? []) {
    if (!/^[A-Za-z0-9_.-]+$/.test(plugin.name)) throw new Error(`startContainerd: bad proxy plugin name ${JSON.stringify(plugin.name)}`);
    // proxy_plugins is keyed by name alone, so a snapshotter and a differ need different names.
    if (names.has(plugin.name)) throw new Error(`startContainerd: proxy plugin name ${plugin.name} used twice`);
    names.add(plugin.name);
  }

  const root = path.join(dir, 'root');
  const state = path.join(dir, 'state');
  const configPath = path.join(dir, 'config.toml');
  const logPath = path.join(dir, 'containerd.log');
  await fs.mkdir(dir, { recursive: true });
  await fs.mkdir(path.join(dir, 'tmp'), { recursive: true });
  await fs.writeFile(configPath, containerdConfig(opts, { dir, root, state, address }));

  const env = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const logFd = openSync(logPath, 'a');
  let daemon: ChildProcess;
  try {
    daemon = spawn(path.join(binDir, 'containerd'), ['--config', configPath], { env, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) => {
    daemon.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });

  const namespace = `t${randomBytes(5).toString('hex')}`;
  const logTail = () => tail(logPath, 40);

  const ctr = (args: string[], ctrOpts: CtrOptions = {}) =>
    runCtr(path.join(binDir, 'ctr'), ['--address', address, ...args], { ...env, CONTAINERD_NAMESPACE: namespace }, ctrOpts);

  const ctrOk = async (args: string[], ctrOpts?: CtrOptions) => {
    const result = await ctr(args, ctrOpts);
    if (result.code !== 0) {
      throw new Error(
        `ctr ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}\n` +
          `--- containerd log (last lines) ---\n${logTail()}`,
      );
    }
    return result.stdout;
  };

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      const namespaces = exited ? [namespace] : await removeContainers(ctr);
      if (!exited) {
        daemon.kill('SIGTERM');
        const timer = setTimeout(() => daemon.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exit;
        clearTimeout(timer);
      }
      await killShimsOf(address);
      await unmountUnder(dir);
      await fs.rm(dir, { recursive: true, force: true });
      // The runc shim leaves an empty state dir per namespace behind; rmdir only removes it if empty.
      for (const ns of namespaces) await fs.rmdir(path.join(RUNC_STATE_ROOT, ns)).catch(() => undefined);
    })();
    return stopped;
  };

  try {
    await waitUntilServing(address, ctr, () => exited, exit);
  } catch (err) {
    const log = logTail();
    await stop();
    throw new Error(`startContainerd: ${(err as Error).message}\n--- containerd log (last lines) ---\n${log}`);
  }
  return { address, namespace, logPath, ctr, ctrOk, stop };
}

function containerdConfig(
  opts: StartContainerdOptions,
  paths: { dir: string; root: string; state: string; address: string },
): string {
  const plugins: Record<string, unknown> = {
    // Defaults to /opt/containerd, shared with the host.
    'io.containerd.internal.v1.opt': { path: path.join(paths.dir, 'opt') },
  };
  if (opts.diffDefault) plugins['io.containerd.service.v1.diff-service'] = { default: opts.diffDefault };

  const proxyPlugins: Record<string, unknown> = {};
  for (const p of opts.proxyPlugins ?? []) {
    proxyPlugins[p.name] = { type: p.type, address: p.address, ...(p.exports ? { exports: p.exports } : {}) };
  }

  const config = {
    version: 2,
    root: paths.root,
    state: paths.state,
    temp: path.join(paths.dir, 'tmp'),
    disabled_plugins: ['io.containerd.grpc.v1.cri'],
    grpc: { address: paths.address },
    debug: { level: 'debug' },
    plugins,
    proxy_plugins: proxyPlugins,
  };
  return `${stringify(config)}\n${opts.extraConfig ?? ''}\n`;
}

async function waitUntilServing(
  address: string,
  ctr: (args: string[], opts?: CtrOptions) => Promise<CtrResult>,
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined,
  exit: Promise<void>,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: CtrResult | undefined;
  while (Date.now() < deadline) {
    // ctr waits for a socket that is not there yet instead of failing, so poll for the file first.
    if (existsSync(address)) {
      last = await Promise.race([ctr(['version'], { timeoutMs: 5_000 }), exit.then(() => undefined)]);
      if (last?.code === 0) return;
    }
    const status = exited();
    if (status) throw new Error(`containerd exited during start (code ${status.code}, signal ${status.signal})`);
    await Promise.race([delay(50), exit]);
  }
  throw new Error(`containerd did not answer "ctr version" within ${START_TIMEOUT_MS} ms: ${last?.stderr ?? ''}`);
}

function runCtr(binary: string, args: string[], env: NodeJS.ProcessEnv, opts: CtrOptions): Promise<CtrResult> {
  // Scaled here, so every caller's limit stretches on a slow (emulated) CPU.
  const timeoutMs = scaledMs(opts.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ctr ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${Buffer.concat(stderr)}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
        code: code ?? (signal ? 128 : 1),
      });
    });
    // A child that exits before reading its input must not crash the test with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Kills and deletes tasks and containers in every namespace, so no shim or
 * container outlives the test; returns the namespaces it found.
 */
async function removeContainers(ctr: (args: string[], opts?: CtrOptions) => Promise<CtrResult>): Promise<string[]> {
  const listed = await ctr(['namespaces', 'ls', '-q'], { timeoutMs: 10_000 }).catch(() => undefined);
  const namespaces = lines(listed?.stdout);
  for (const ns of namespaces) {
    const tasks = await ctr(['-n', ns, 'tasks', 'ls', '-q'], { timeoutMs: 10_000 }).catch(() => undefined);
    for (const id of lines(tasks?.stdout)) {
      await ctr(['-n', ns, 'tasks', 'delete', '--force', id], { timeoutMs: 15_000 }).catch(() => undefined);
    }
    const containers = await ctr(['-n', ns, 'containers', 'ls', '-q'], { timeoutMs: 10_000 }).catch(() => undefined);
    for (const id of lines(containers?.stdout)) {
      await ctr(['-n', ns, 'containers', 'delete', id], { timeoutMs: 15_000 }).catch(() => undefined);
    }
  }
  return namespaces;
}

/** Shims outlive containerd; they carry its socket path as `-address` on their command line. */
async function killShimsOf(address: string): Promise<void> {
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv: string[] = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').then((s) => s.split('\0'), () => []);
    const isShim = argv[0] !== undefined && path.basename(argv[0]).startsWith('containerd-shim');
    const addressAt = argv.indexOf('-address');
    if (isShim && addressAt >= 0 && argv[addressAt + 1] === address) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

/** Unmounts every mount at or below `dir`, deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const mountPoints = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp): mp is string => mp !== undefined)
    .map(unescapeMountPath)
    .filter((mp) => mp === dir || mp.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mp of mountPoints) {
    await execFileAsync('umount', [mp]).catch(() => execFileAsync('umount', ['-l', mp]).catch(() => undefined));
  }
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function lines(text: string | undefined): string[] {
  return (text ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

function tail(file: string, count: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-count).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function repoRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'scripts', 'containerd', 'install.sh'))) return dir;
  }
  throw new Error(`cannot find scripts/containerd/install.sh above ${__dirname}`);
}
