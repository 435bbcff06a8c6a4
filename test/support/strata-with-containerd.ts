import fs from 'node:fs/promises';
import path from 'node:path';
import { startContainerd, type Containerd } from './containerd';
import { freePort } from './free-port';
import { spawnStrata, type StrataProcess } from './strata-process';
import { testBackendConfig } from './strata-server';

export interface StrataWithContainerd {
  strata: StrataProcess;
  /** A private containerd with strata as its `strata` snapshotter and first differ (`strata-diff`, then walking). */
  containerd: Containerd;
  /** How many calls of one Diff-service method strata has served, from its Prometheus endpoint. */
  diffCalls(method: 'Apply' | 'Diff'): Promise<number>;
  /** strata's Prometheus metrics, as its endpoint serves them. */
  metrics(): Promise<string>;
  /** Stops containerd, then strata. */
  stop(): Promise<void>;
}

export interface StrataWithContainerdOptions {
  /** strata's environment, e.g. a PATH with only some programs. */
  strataEnv?: NodeJS.ProcessEnv;
  /**
   * containerd's configuration of strata, in place of the test's own proxy
   * plugins and differ order (e.g. README's snippet); `socket` and `root`
   * are strata's.
   */
  containerdConfig?: (strata: { socket: string; root: string }) => string;
}

/**
 * strata (TEST_BACKEND, metadata under `dir`) and a containerd 1.7 that loads it as
 * both proxy plugins on one socket. Proxy differs are not told the caller's
 * namespace, so strata is configured with the one the caller will use.
 */
export async function startStrataWithContainerd(
  dir: string,
  namespace: string,
  options: StrataWithContainerdOptions = {},
): Promise<StrataWithContainerd> {
  const socket = path.join(dir, 's.sock');
  const strataRoot = path.join(dir, 'r');
  const containerdDir = path.join(dir, 'c');
  const metricsPort = await freePort();
  const config = path.join(dir, 'strata.toml');
  await fs.writeFile(config, [
    `root = ${JSON.stringify(strataRoot)}`,
    'log_level = "warn"',
    `metrics_address = "127.0.0.1:${metricsPort}"`,
    testBackendConfig(),
    '[diff]',
    `containerd_address = ${JSON.stringify(path.join(containerdDir, 'containerd.sock'))}`,
    `namespace = ${JSON.stringify(namespace)}`,
  ].join('\n'));
  const strata = await spawnStrata(['--config', config], socket, undefined, options.strataEnv);
  const stopStrata = async () => {
    strata.child.kill('SIGTERM');
    await strata.exited;
  };
  let containerd: Containerd;
  try {
    containerd = await startContainerd(
      options.containerdConfig
        ? { dir: containerdDir, extraConfig: options.containerdConfig({ socket, root: strataRoot }) }
        : {
            dir: containerdDir,
            proxyPlugins: [
              { name: 'strata', type: 'snapshot', address: socket },
              { name: 'strata-diff', type: 'diff', address: socket },
            ],
            diffDefault: ['strata-diff', 'walking'],
          },
    );
  } catch (err) {
    await stopStrata();
    throw err;
  }
  const metrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return {
    strata,
    containerd,
    metrics,
    async diffCalls(method) {
      const text = await metrics();
      const prefix = `strata_grpc_request_duration_seconds_count{service="diff",method="${method}"} `;
      const line = text.split('\n').find((l) => l.startsWith(prefix));
      return line === undefined ? 0 : Number(line.slice(prefix.length));
    },
    async stop() {
      await containerd.stop();
      await stopStrata();
    },
  };
}
