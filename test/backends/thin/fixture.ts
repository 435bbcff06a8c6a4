import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { open, type Database, type RootDatabase } from 'lmdb';
import { createThinBackend, loopbackPoolName, thinConfigSchema, type ThinBackend, type ThinConfigInput } from '../../../src/backends/thin';
import { DeviceStore } from '../../../src/backends/thin/devices';
import type { Backend } from '../../../src/snapshots/backend';
import type { Kind, Labels, SnapshotRef } from '../../../src/snapshots/types';
import { hasDeviceMapper, NO_DEVICE_MAPPER } from '../../support/device-mapper';

const run = promisify(execFile);
const dmEnv = { ...process.env, DM_DISABLE_UDEV: '1' };

/** Why the thin tests cannot run here, or undefined when they can. */
export const skipReason: string | undefined = hasDeviceMapper()
  ? undefined
  : `${NO_DEVICE_MAPPER} (/proc/misc); these tests run in the VM: scripts/vm/run.sh -- node --test dist/test/backends/thin`;

export const MiB = 1024 * 1024;

/** Small sizes so a test pool lives comfortably in the VM's tmpfs. */
export const SMALL_POOL: ThinConfigInput = { data_size: '256MiB', metadata_size: '16MiB', base_image_size: '64MiB' };

export async function dmsetup(...args: string[]): Promise<string> {
  return (await run('dmsetup', args, { env: dmEnv })).stdout;
}

export interface ThinFixture {
  root: string;
  env: RootDatabase;
  db: Database;
  store: DeviceStore;
  backend: ThinBackend;
  poolName: string;
  logs: Array<{ msg: string; fields?: object }>;
  /** Closes the backend and opens a new one on the same root and database, as a restart does. */
  reopen(): Promise<ThinBackend>;
}

/** Registers teardown work: a test's `t.after`, or a suite's list run by its `after` hook. */
export type OnCleanup = (fn: () => Promise<void>) => void;

export interface FixtureOptions {
  /** Use this thin-pool (the `pool_name` option) instead of a loopback pool. */
  existingPool?: string;
  /**
   * Runs on the empty root before the backend opens it; what it returns runs
   * at teardown once the pool and its loop devices are gone, before the root
   * is deleted (to unmount what it mounted there).
   */
  prepareRoot?: (root: string) => Promise<(() => Promise<void>) | void>;
}

/**
 * A thin backend on a fresh root under /tmp with its own LMDB environment.
 * Everything is torn down afterwards, pass or fail: devices, pool, loop
 * devices, files.
 */
export async function thinFixture(onCleanup: OnCleanup, input: ThinConfigInput = {}, options: FixtureOptions = {}): Promise<ThinFixture> {
  const { existingPool } = options;
  const root = await mkdtemp('/tmp/thin-');
  const poolName = existingPool ?? loopbackPoolName(root);
  const env = open({ path: path.join(root, 'meta') });
  const db = env.openDB({ name: 'thin' });
  const config = thinConfigSchema.parse({ ...SMALL_POOL, ...input, ...(existingPool ? { pool_name: existingPool } : {}) });
  const logs: ThinFixture['logs'] = [];
  const log = (msg: string, fields?: object) => logs.push({ msg, fields });
  let backend: ThinBackend | undefined;
  let unprepareRoot: (() => Promise<void>) | void;
  onCleanup(async () => {
    await backend?.close();
    await env.close();
    await removeDevices(`${poolName}-`);
    if (!existingPool) await removePool(poolName, [path.join(root, 'thin', 'data'), path.join(root, 'thin', 'metadata')]);
    await unprepareRoot?.();
    await rm(root, { recursive: true, force: true });
  });
  unprepareRoot = await options.prepareRoot?.(root);
  backend = await createThinBackend({ root, config, db, log });
  const fixture: ThinFixture = {
    root,
    env,
    db,
    store: new DeviceStore(db),
    backend,
    poolName,
    logs,
    async reopen() {
      await backend?.close();
      backend = await createThinBackend({ root, config, db, log });
      fixture.backend = backend;
      return backend;
    },
  };
  return fixture;
}

/** Removes the device-mapper devices whose names start with `prefix`. */
export async function removeDevices(prefix: string): Promise<void> {
  const listing = await dmsetup('ls');
  for (const line of listing.split('\n')) {
    const name = line.split('\t')[0].trim();
    if (name.startsWith(prefix)) await dmsetup('remove', '--retry', name).catch(() => undefined);
  }
}

/** Removes a pool and detaches the loop devices of its files. */
export async function removePool(poolName: string, files: string[]): Promise<void> {
  await dmsetup('remove', '--retry', poolName).catch(() => undefined);
  for (const file of files) {
    const { stdout } = await run('losetup', ['--noheadings', '--output', 'NAME', '--associated', file]).catch(() => ({ stdout: '' }));
    for (const device of stdout.split('\n').filter((line) => line.trim() !== '')) await run('losetup', ['--detach', device.trim()]);
  }
}

export function ref(id: string, kind: Kind, parentIds: string[] = [], labels: Labels = {}): SnapshotRef {
  return { id, kind, parentIds, labels };
}

/** Stage and publish, as the snapshotter does: publish inside a write transaction of the environment. */
export async function create(
  backend: Backend,
  env: RootDatabase,
  id: string,
  kind: 'active' | 'view',
  parentIds: string[] = [],
  labels: Labels = {},
): Promise<SnapshotRef> {
  const staged = await backend.stage({ kind, parentIds, labels });
  env.transactionSync(() => backend.publish(staged, id));
  return ref(id, kind, parentIds, labels);
}

/** Names of the active devices of a pool. */
export async function activeDevices(poolName: string): Promise<string[]> {
  const listing = await dmsetup('ls');
  return listing
    .split('\n')
    .map((line) => line.split('\t')[0].trim())
    .filter((name) => name.startsWith(`${poolName}-`))
    .sort();
}

/** Teardown steps run last-registered first, so the backend goes before the pool under it. */
export function cleanupStack(t: TestContext): OnCleanup {
  const steps: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (fn) => steps.push(fn);
}

export const testCleanup =
  (t: TestContext): OnCleanup =>
  (fn) =>
    t.after(fn);

/** One fixture for all tests of the enclosing suite: pool setup is the slow part in the VM. */
export function suiteFixture(input: ThinConfigInput = {}): () => ThinFixture {
  const cleanups: Array<() => Promise<void>> = [];
  let fixture: ThinFixture | undefined;
  before(async () => {
    fixture = await thinFixture((fn) => cleanups.push(fn), input);
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return () => {
    if (!fixture) throw new Error('the suite fixture failed to set up');
    return fixture;
  };
}
