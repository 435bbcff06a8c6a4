import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { backendTools, openBackend, type BackendSettings } from '../backends';
import type { OverlayBackend } from '../backends/overlay';
import type { ThinBackend } from '../backends/thin';
import { LAYER_TOOLS } from '../changeset/tools';
import { DIFF_PROTO, DIFF_SERVICE, diffService } from '../diff/diff-service';
import { LazyDiffer } from '../diff/lazy-differ';
import { checkTools, type Tool } from '../exec/tools';
import { MOUNT_TOOLS } from '../mount';
import type { Backend } from '../snapshots/backend';
import { Snapshotter } from '../snapshots/snapshotter';
import { MetaStore } from '../store/metastore';
import { packageVersion } from '../package-root';
import { logCalls, logReclaims } from './call-log';
import type { CallObserver } from './handlers';
import { loadService, SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE, STATUS_PROTO, STATUS_SERVICE } from './proto';
import type { StrataMetrics } from '../metrics/metrics';
import { HEALTH_PROTO, HEALTH_SERVICE, HealthService } from './health';
import { writePidFile } from './pid-file';
import { notifyReady, readinessTools } from './readiness';
import { lockRoot } from './root-lock';
import { snapshotsService } from './snapshots-service';
import { statusService } from './status-service';
import { resolveGroupId } from './socket-group';

/** The part of strata's configuration the server needs. */
export interface ServeSettings extends BackendSettings {
  address: string;
  socket_group?: string | number;
  sync_remove: boolean;
  metrics_address?: string;
  /** Written once serving, removed on exit: how scripts find a server started without systemd. */
  pid_file?: string;
  diff: { containerd_address: string; namespace: string };
}

export interface RunningServer {
  /** Stops accepting calls, lets in-flight calls finish, closes LMDB and removes the socket. */
  close(): Promise<void>;
}

/** How long close() waits for in-flight calls before cancelling them. */
const DRAIN_TIMEOUT_MS = 10_000;

/** Every program a server with these settings may run. */
export function requiredTools(settings: ServeSettings): Tool[] {
  return [...MOUNT_TOOLS, ...LAYER_TOOLS, ...backendTools(settings), ...readinessTools()];
}

/**
 * Starts the server. A start-up failure undoes all that was created (lock,
 * LMDB, backend, metrics listener, sockets, pid file) before it is thrown,
 * so the process can exit at once and leave nothing behind.
 */
export async function serve(settings: ServeSettings, logger: Logger): Promise<RunningServer> {
  // Checked before anything is created: a bad machine or config leaves no trace.
  checkTools(requiredTools(settings));
  const socketGid = settings.socket_group === undefined ? undefined : await resolveGroupId(settings.socket_group);
  const root = path.resolve(settings.root);
  const address = path.resolve(settings.address);
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  const lock = await lockRoot(root);
  const cleanups: Array<() => Promise<void>> = [() => lock.release()];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const store = MetaStore.open(path.join(root, 'metadata'));
    cleanups.push(() => store.close());
    const backend = await openBackend({ ...settings, root }, store, logger);
    cleanups.push(() => backend.close());
    const snapshotter = new Snapshotter(store, backend, {
      // A thin device is reclaimed by the backend itself, at once or (async_remove) at Cleanup.
      syncRemove: settings.backend === 'thin' || settings.sync_remove,
      onBackgroundError: (err, context) => logger.warn({ err, context }, 'background storage reclaim failed'),
      onReclaim: logReclaims(logger),
    });

    // Before the socket exists: a metrics port clash stops start-up before any client sees it.
    const metrics =
      settings.metrics_address === undefined
        ? undefined
        : await startMetrics(settings.metrics_address, snapshotter, settings.backend, backend);
    if (metrics !== undefined) cleanups.push(() => metrics.close());
    const observe = metrics === undefined ? logCalls(logger) : combineObservers(logCalls(logger), metrics.observe);
    const differ = new LazyDiffer({
      root,
      containerdAddress: settings.diff.containerd_address,
      onLayerBytes: metrics?.countLayerBytes,
    });
    cleanups.push(() => differ.close());
    const health = new HealthService([SNAPSHOTS_SERVICE, DIFF_SERVICE, STATUS_SERVICE]);
    // channelz bookkeeping costs every call; strata exposes metrics instead.
    const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
    server.addService(loadService(SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE).service, snapshotsService(snapshotter, observe));
    server.addService(loadService(DIFF_PROTO, DIFF_SERVICE).service, diffService(differ, settings.diff.namespace, observe));
    server.addService(loadService(HEALTH_PROTO, HEALTH_SERVICE).service, health.implementation());
    server.addService(
      loadService(STATUS_PROTO, STATUS_SERVICE).service,
      statusService(
        { version: packageVersion(), root, metricsAddress: settings.metrics_address },
        snapshotter,
        backend,
        observe,
      ),
    );
    await listen(server, address, socketGid);
    cleanups.push(async () => {
      health.shutdown();
      await shutdown(server);
      await fs.rm(address, { force: true });
    });
    if (settings.pid_file !== undefined) cleanups.push(await writePidFile(settings.pid_file));
    logger.info(
      { root, address, backend: backend.name, metrics_address: settings.metrics_address ?? null, pid_file: settings.pid_file ?? null },
      'strata is serving',
    );
    notifyReady((err) => logger.warn({ err: err.message }, 'could not notify systemd of readiness'));
    return { close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Binds under a private name, sets the socket's mode and group, then renames
 * it to `address`: a client never finds the socket before it has its final
 * permissions (bound in place, it would briefly carry the umask's). On
 * failure the server stops listening and the private socket is removed.
 */
async function listen(server: grpc.Server, address: string, gid: number | undefined): Promise<void> {
  await fs.mkdir(path.dirname(address), { recursive: true, mode: 0o755 });
  await removeStaleSocket(address);
  const staging = path.join(path.dirname(address), `.strata-${process.pid}.sock`);
  await fs.rm(staging, { force: true });
  try {
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${staging}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    await fs.chmod(staging, 0o660);
    if (gid !== undefined) await fs.chown(staging, process.getuid?.() ?? 0, gid);
    await fs.rename(staging, address);
  } catch (err) {
    server.forceShutdown();
    await fs.rm(staging, { force: true });
    throw err;
  }
}

/** A socket file left by a crashed server is removed; one a live server answers on is an error. */
async function removeStaleSocket(address: string): Promise<void> {
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(address);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`address ${address} is already in use by another server`);
  await fs.rm(address, { force: true });
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), DRAIN_TIMEOUT_MS);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/**
 * Serves Prometheus metrics at `address`. prom-client is loaded here only:
 * a server without a metrics address neither loads it nor counts every call
 * for no reader.
 */
async function startMetrics(address: string, snapshotter: Snapshotter, backendName: ServeSettings['backend'], backend: Backend) {
  const { StrataMetrics, serveMetrics } = await import('../metrics/metrics');
  const metrics = new StrataMetrics(() => snapshotter.countByKind());
  if (backendName === 'thin') exportPoolUsage(metrics, backend as ThinBackend);
  else exportObjectStore(metrics, backend as OverlayBackend);
  const server = await serveMetrics(address, metrics.registry);
  return {
    observe: metrics.observe,
    countLayerBytes: (direction: 'applied' | 'produced', bytes: number) => metrics.layerBytes.inc({ direction }, bytes),
    close: () => server.close(),
  };
}

function exportPoolUsage(metrics: StrataMetrics, thin: ThinBackend): void {
  metrics.addGauge('strata_thin_pool_bytes', 'Thin pool space by area (data, metadata) and measure (used, total).', ['area', 'measure'], async () => {
    const status = await thin.status();
    return [
      { labels: { area: 'data', measure: 'used' }, value: status.dataUsedBytes },
      { labels: { area: 'data', measure: 'total' }, value: status.dataTotalBytes },
      { labels: { area: 'metadata', measure: 'used' }, value: status.metadataUsedBytes },
      { labels: { area: 'metadata', measure: 'total' }, value: status.metadataTotalBytes },
    ];
  });
}

function exportObjectStore(metrics: StrataMetrics, overlay: OverlayBackend): void {
  metrics.addGauge('strata_object_store_enabled', 'Whether overlay layers keep file contents in the shared object store (1) or not (0).', [], async () => [
    { labels: {}, value: overlay.objectMode.enabled ? 1 : 0 },
  ]);
  metrics.addGauge('strata_object_store_contents', 'Contents kept in the object store: objects (count) and bytes.', ['measure'], async () => {
    const { objects, bytes } = (await overlay.status()).objectStore;
    return [
      { labels: { measure: 'objects' }, value: objects },
      { labels: { measure: 'bytes' }, value: bytes },
    ];
  });
}

function combineObservers(...observers: CallObserver[]): CallObserver {
  return (call) => {
    for (const observe of observers) observe(call);
  };
}
