import { rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTool } from '../../exec/run-tool';
import { DmCommand, DmFlag, decodeDev, decodeNameList, decodeTargets, dmIoctl, isDeviceMapperError, type DmAnswer } from './dm-ioctl';
import { libc, makedev } from './libc';

/**
 * dmsetup(8)'s verbs, made as its library makes them (one ioctl each, see
 * dm-ioctl.ts) but without a process per verb: under strata a thin device's
 * creation was two dmsetup runs, most of its time. There is no udev in the
 * places strata's thin backend runs, and it must not wait for one: as
 * dmsetup with DM_DISABLE_UDEV, it makes and removes the /dev/mapper nodes
 * itself.
 */

export const SECTOR_BYTES = 512;

/** libdevmapper's retry of a removal refused because the device is open: 25 tries, 0.2 s apart. */
const REMOVE_TRIES = 25;
const REMOVE_RETRY_MS = 200;

/** Creates the device with `table` ("START LENGTH TYPE PARAMS") and activates it; a failed load leaves no device behind. */
export async function create(name: string, table: string): Promise<void> {
  const created = await dmIoctl(DmCommand.deviceCreate, { name }, 'create');
  try {
    await dmIoctl(DmCommand.tableLoad, { name, targets: parseTable(table) }, 'load table');
    await dmIoctl(DmCommand.deviceSuspend, { name }, 'resume');
  } catch (err) {
    await dmIoctl(DmCommand.deviceRemove, { name }, 'remove').catch(() => undefined);
    throw err;
  }
  ensureNode({ name, ...decodeDev(created.dev) });
}

/** Loads `table` as the inactive table of `name`; it takes effect on resume. */
export async function reload(name: string, table: string): Promise<void> {
  await dmIoctl(DmCommand.tableLoad, { name, targets: parseTable(table) }, 'load table');
}

function parseTable(table: string) {
  return table
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s*(.*)$/.exec(line);
      if (!match) throw new Error(`not a device-mapper table line: ${JSON.stringify(line)}`);
      return { start: Number(match[1]), length: Number(match[2]), type: match[3], params: match[4] };
    });
}

/**
 * How `remove` treats a device that is held open: `retry` for a while (it may
 * be open only briefly), fail at `once`, or leave it `deferred`: the kernel
 * removes it when its last user closes it.
 */
export type RemoveMode = 'retry' | 'once' | 'deferred';

export async function remove(name: string, mode: RemoveMode = 'retry'): Promise<void> {
  const flags = mode === 'deferred' ? DmFlag.deferredRemove : 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await dmIoctl(DmCommand.deviceRemove, { name, flags }, 'remove');
      break;
    } catch (err) {
      if (!(mode === 'retry' && isBusy(err) && attempt < REMOVE_TRIES)) throw err;
      await sleep(REMOVE_RETRY_MS);
    }
  }
  // A deferred removal of an open device leaves it, and its node, in place.
  if (mode !== 'deferred' || (await info(name)) === undefined) removeNode(name);
}

/** The kernel's refusal of a device that is open. */
export function isBusy(err: unknown): boolean {
  return isDeviceMapperError(err, 'EBUSY');
}

/** The kernel's answer about a device that does not exist. */
export function isNoSuchDevice(err: unknown): boolean {
  return isDeviceMapperError(err, 'ENXIO');
}

/** A thin-pool's answer to `delete` of a device it does not have. */
export function isNoSuchThin(err: unknown): boolean {
  return isDeviceMapperError(err, 'ENODATA');
}

/** Keeps a device whose deferred removal is pending; one that is gone, or has no removal pending, is left as it is. */
export async function cancelDeferredRemove(name: string): Promise<void> {
  try {
    await message(name, 0, '@cancel_deferred_remove');
  } catch (err) {
    // With no removal pending the kernel answers ENXIO, as for no device.
    if (!isNoSuchDevice(err)) throw err;
  }
}

export async function suspend(name: string, options: { noflush?: boolean } = {}): Promise<void> {
  await dmIoctl(DmCommand.deviceSuspend, { name, flags: DmFlag.suspend | (options.noflush ? DmFlag.noFlush : 0) }, 'suspend');
}

export async function resume(name: string): Promise<void> {
  const answer = await dmIoctl(DmCommand.deviceSuspend, { name }, 'resume');
  ensureNode({ name, ...decodeDev(answer.dev) });
}

export async function message(name: string, sector: number, text: string): Promise<void> {
  await dmIoctl(DmCommand.targetMessage, { name, message: { sector, text } }, `message "${text}" to`);
}

/** The target status line(s) of a device, "START LENGTH TYPE STATUS" as dmsetup prints them. */
export async function status(name: string): Promise<string> {
  return formatTargets(await dmIoctl(DmCommand.tableStatus, { name }, 'status'));
}

export async function table(name: string): Promise<string> {
  return formatTargets(await dmIoctl(DmCommand.tableStatus, { name, flags: DmFlag.statusTable }, 'table'));
}

function formatTargets(answer: DmAnswer): string {
  return decodeTargets(answer)
    .map((target) => `${target.start} ${target.length} ${target.type} ${target.params}`.trim())
    .join('\n');
}

/** The device node of `name`. */
export function nodePath(name: string): string {
  return `/dev/mapper/${name}`;
}

/** A device's name and number: what its node is made from. */
type DeviceNumber = Pick<DeviceInfo, 'name' | 'major' | 'minor'>;

/**
 * Makes /dev/mapper/<name> for the device's number, unless a node for that
 * device is there (made earlier, or a udev link to it). A node for another
 * number, left from an earlier device of that name, is replaced: it would
 * mount the wrong device.
 */
export function ensureNode(device: DeviceNumber): void {
  if (hasNode(device)) return;
  const path = nodePath(device.name);
  rmSync(path, { force: true });
  libc().mknodBlockOrChar(path, 'block', 0o600, device.major, device.minor);
}

/** Whether /dev/mapper/<name> is there and is the node of this device (a udev link to it counts). */
export function hasNode(device: DeviceNumber): boolean {
  const existing = statSync(nodePath(device.name), { throwIfNoEntry: false, bigint: true });
  return existing !== undefined && existing.isBlockDevice() && existing.rdev === makedev(device.major, device.minor);
}

function removeNode(name: string): void {
  rmSync(nodePath(name), { force: true });
}

export interface DeviceInfo {
  name: string;
  major: number;
  minor: number;
  openCount: number;
  eventNumber: number;
  suspended: boolean;
}

/** What the kernel knows of `name`, or undefined when no such device exists. */
export async function info(name: string): Promise<DeviceInfo | undefined> {
  let answer: DmAnswer;
  try {
    answer = await dmIoctl(DmCommand.deviceStatus, { name }, 'info');
  } catch (err) {
    if (isNoSuchDevice(err)) return undefined;
    throw err;
  }
  return {
    name,
    ...decodeDev(answer.dev),
    openCount: answer.openCount,
    eventNumber: answer.eventNumber,
    suspended: (answer.flags & DmFlag.suspend) !== 0,
  };
}

/** Every device-mapper device the kernel has, by name. */
export async function infoAll(): Promise<Map<string, DeviceInfo>> {
  const devices = new Map<string, DeviceInfo>();
  for (const name of decodeNameList(await dmIoctl(DmCommand.listDevices, {}, 'list devices'))) {
    // A device removed between the list and its info is not there.
    const device = await info(name);
    if (device) devices.set(name, device);
  }
  return devices;
}

/**
 * Waits until the event counter of `name` exceeds `eventNumber` (a thin-pool
 * raises an event at its low-water mark and when it runs out of space).
 * `signal` ends the wait early. This one is `dmsetup wait`, a process of its
 * own: the kernel's wait cannot be interrupted, and would hold one of
 * Node.js's few worker threads for as long as the pool stays quiet.
 */
export async function wait(name: string, eventNumber: number, signal: AbortSignal): Promise<void> {
  try {
    await runTool('dmsetup', ['wait', name, String(eventNumber)], { signal });
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

/** `dmsetup status` of a thin-pool target. */
export interface PoolStatus {
  transactionId: number;
  usedMetadataBlocks: number;
  totalMetadataBlocks: number;
  usedDataBlocks: number;
  totalDataBlocks: number;
  /** rw, ro, out_of_data_space, or Fail. */
  mode: string;
  needsCheck: boolean;
}

export function parsePoolStatus(line: string): PoolStatus {
  // "0 LEN thin-pool TXID USEDMETA/TOTALMETA USEDDATA/TOTALDATA HELDROOT MODE ..."
  const fields = line.trim().split(/\s+/);
  if (fields[2] !== 'thin-pool') throw new Error(`not a thin-pool status: ${JSON.stringify(line)}`);
  if (fields[3] === 'Fail') throw new Error(`thin-pool has failed: ${JSON.stringify(line)}`);
  const [usedMeta, totalMeta] = fields[4].split('/').map(Number);
  const [usedData, totalData] = fields[5].split('/').map(Number);
  return {
    transactionId: Number(fields[3]),
    usedMetadataBlocks: usedMeta,
    totalMetadataBlocks: totalMeta,
    usedDataBlocks: usedData,
    totalDataBlocks: totalData,
    mode: fields[7],
    needsCheck: fields.includes('needs_check'),
  };
}

/** `dmsetup status` of a thin target: "0 LEN thin MAPPED_SECTORS HIGHEST_MAPPED". */
export function parseThinMappedSectors(line: string): number {
  const fields = line.trim().split(/\s+/);
  if (fields[2] !== 'thin') throw new Error(`not a thin status: ${JSON.stringify(line)}`);
  if (fields[3] === 'Fail') throw new Error(`thin device has failed: ${JSON.stringify(line)}`);
  return Number(fields[3]);
}
