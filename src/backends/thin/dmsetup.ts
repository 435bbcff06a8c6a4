import { existsSync } from 'node:fs';
import { runTool, ToolError } from '../../exec/run-tool';

/**
 * dmsetup(8), one function per verb. There is no udev in the places strata's
 * thin backend runs (and it must not wait for one): with DM_DISABLE_UDEV set
 * dmsetup creates and removes the /dev/mapper nodes itself.
 */
const env = { ...process.env, DM_DISABLE_UDEV: '1' };

function dmsetup(args: string[], signal?: AbortSignal): Promise<string> {
  return runTool('dmsetup', args, { env, signal });
}

export const SECTOR_BYTES = 512;

export async function create(name: string, table: string): Promise<void> {
  await dmsetup(['create', name, '--table', table]);
  await ensureNode(name);
}

/** Loads `table` as the inactive table of `name`; it takes effect on resume. */
export async function reload(name: string, table: string): Promise<void> {
  await dmsetup(['reload', name, '--table', table]);
}

/**
 * How `remove` treats a device that is held open: `retry` for a while (it may
 * be open only briefly), fail at `once`, or leave it `deferred`: the kernel
 * removes it when its last user closes it.
 */
export type RemoveMode = 'retry' | 'once' | 'deferred';

const REMOVE_FLAGS: Record<RemoveMode, string[]> = { retry: ['--retry'], once: [], deferred: ['--deferred'] };

export async function remove(name: string, mode: RemoveMode = 'retry'): Promise<void> {
  await dmsetup(['remove', ...REMOVE_FLAGS[mode], name]);
}

/** dmsetup's complaint about a device that is open. */
export function isBusy(err: unknown): boolean {
  return err instanceof ToolError && /Device or resource busy/i.test(err.stderr);
}

/** Keeps a device whose deferred removal is pending; one that is gone, or has no removal pending, is left as it is. */
export async function cancelDeferredRemove(name: string): Promise<void> {
  try {
    await message(name, 0, '@cancel_deferred_remove');
  } catch (err) {
    // With no removal pending the kernel answers ENXIO, "No such device or address".
    if (!isNoSuchDevice(err)) throw err;
  }
}

export async function suspend(name: string, options: { noflush?: boolean } = {}): Promise<void> {
  await dmsetup(['suspend', ...(options.noflush ? ['--noflush'] : []), name]);
}

export async function resume(name: string): Promise<void> {
  await dmsetup(['resume', name]);
  await ensureNode(name);
}

export async function message(name: string, sector: number, text: string): Promise<void> {
  await dmsetup(['message', name, String(sector), text]);
}

/** The target status line(s) of a device, without the leading "start length". */
export async function status(name: string): Promise<string> {
  return (await dmsetup(['status', name])).trim();
}

export async function table(name: string): Promise<string> {
  return (await dmsetup(['table', name])).trim();
}

/** Makes sure /dev/mapper/<name> exists and matches the kernel's device. */
export async function mknodes(name: string): Promise<void> {
  await dmsetup(['mknodes', name]);
}

/** The device node of `name`. */
export function nodePath(name: string): string {
  return `/dev/mapper/${name}`;
}

export function hasNode(name: string): boolean {
  return existsSync(nodePath(name));
}

/** Runs `mknodes` only when the node is missing: each dmsetup run costs a process. */
export async function ensureNode(name: string): Promise<void> {
  if (!hasNode(name)) await mknodes(name);
}

/** dmsetup's complaint about a device that does not exist. */
export function isNoSuchDevice(err: unknown): boolean {
  return err instanceof ToolError && /does not exist|No such device/i.test(err.stderr);
}

export interface DeviceInfo {
  name: string;
  major: number;
  minor: number;
  openCount: number;
  eventNumber: number;
  suspended: boolean;
}

const INFO_ARGS = ['info', '-c', '--noheadings', '--separator', ' ', '-o', 'name,major,minor,open,events,attr'];

/** What the kernel knows of `name`, or undefined when no such device exists. */
export async function info(name: string): Promise<DeviceInfo | undefined> {
  let out: string;
  try {
    out = await dmsetup([...INFO_ARGS, name]);
  } catch (err) {
    if (isNoSuchDevice(err)) return undefined;
    throw err;
  }
  return parseInfoLine(out.trim());
}

/** Every device-mapper device the kernel has, by name: one process instead of one per device. */
export async function infoAll(): Promise<Map<string, DeviceInfo>> {
  const devices = new Map<string, DeviceInfo>();
  // With no devices at all, dmsetup prints "No devices found" instead of rows.
  for (const line of (await dmsetup(INFO_ARGS)).split('\n')) {
    const device = parseInfoLine(line.trim());
    if (device) devices.set(device.name, device);
  }
  return devices;
}

function parseInfoLine(line: string): DeviceInfo | undefined {
  const fields = line.split(' ');
  if (fields.length !== 6) return undefined;
  const [name, major, minor, open, events, attr] = fields;
  return {
    name,
    major: Number(major),
    minor: Number(minor),
    openCount: Number(open),
    eventNumber: Number(events),
    // attr is like "L--w" for a live device and "L-sw" for a suspended one.
    suspended: attr[2] === 's',
  };
}

/**
 * Waits until the event counter of `name` exceeds `eventNumber` (a thin-pool
 * raises an event at its low-water mark and when it runs out of space).
 * `signal` ends the wait early.
 */
export async function wait(name: string, eventNumber: number, signal: AbortSignal): Promise<void> {
  try {
    await dmsetup(['wait', name, String(eventNumber)], signal);
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
