import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { libc } from './libc';

/**
 * The kernel's device-mapper control interface (linux/dm-ioctl.h): one
 * ioctl on /dev/mapper/control per request, as libdevmapper makes them
 * under dmsetup, without starting a process for each. A request is
 * struct dm_ioctl followed by its payload; the kernel answers in the same
 * buffer.
 */

/** The ioctl numbers' command part (enum in dm-ioctl.h). */
export const DmCommand = {
  listDevices: 2,
  deviceCreate: 3,
  deviceRemove: 4,
  deviceSuspend: 6,
  deviceStatus: 7,
  tableLoad: 9,
  tableStatus: 12,
  targetMessage: 14,
} as const;
export type DmCommand = (typeof DmCommand)[keyof typeof DmCommand];

/** Flags of struct dm_ioctl. */
export const DmFlag = {
  suspend: 1 << 1,
  statusTable: 1 << 4,
  bufferFull: 1 << 8,
  noFlush: 1 << 11,
  deferredRemove: 1 << 17,
} as const;

/** sizeof(struct dm_ioctl): version[3], data_size, data_start, target_count, open_count, flags, event_nr, padding, dev, name[128], uuid[129], data[7]. */
const HEADER_BYTES = 312;
const NAME_OFFSET = 48;
const NAME_BYTES = 128;
/** sizeof(struct dm_target_spec): sector_start, length, status, next, target_type[16]. */
const TARGET_SPEC_BYTES = 40;
const TARGET_TYPE_BYTES = 16;
/** The interface version this code speaks; the kernel serves any request of major version 4. */
const VERSION = [4, 0, 0];
/** What most answers fit in; a larger one is asked again with a larger buffer. */
const FIRST_BUFFER_BYTES = 16 * 1024;

/** _IOWR(0xfd, command, struct dm_ioctl). */
function requestNumber(command: DmCommand): number {
  return ((3 << 30) | (HEADER_BYTES << 16) | (0xfd << 8) | command) >>> 0;
}

/** A device-mapper request the kernel refused; `code` is its errno name (EBUSY, ENXIO, ...). */
export class DeviceMapperError extends Error {
  constructor(
    readonly operation: string,
    readonly device: string,
    readonly code: string,
  ) {
    super(`device-mapper ${operation} of ${JSON.stringify(device)} failed: ${code}`);
    this.name = 'DeviceMapperError';
  }
}

export function isDeviceMapperError(err: unknown, code: string): boolean {
  return err instanceof DeviceMapperError && err.code === code;
}

/** One target of a table: "START LENGTH TYPE PARAMS" in dmsetup's notation. */
export interface Target {
  start: number;
  length: number;
  type: string;
  params: string;
}

export interface DmRequest {
  /** The device's name; empty for requests about no device. */
  name?: string;
  flags?: number;
  /** DM_TABLE_LOAD's table. */
  targets?: readonly Target[];
  /** DM_TARGET_MSG's sector and text. */
  message?: { sector: number; text: string };
}

/** The kernel's answer, read out of struct dm_ioctl and its data area. */
export interface DmAnswer {
  flags: number;
  openCount: number;
  eventNumber: number;
  targetCount: number;
  /** The kernel's encoding of the device number (huge_encode_dev). */
  dev: bigint;
  /** The answer's payload: data_start up to data_size. */
  data: Buffer;
}

let controlFd: number | undefined;

/**
 * The control node, opened once. devtmpfs makes it on any current system;
 * where /dev was populated without it, it is made from the misc device's
 * numbers, as libdevmapper does.
 */
function control(): number {
  if (controlFd !== undefined) return controlFd;
  try {
    controlFd = openSync('/dev/mapper/control', 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const [major, minor] = readMiscNumbers();
    mkdirSync('/dev/mapper', { recursive: true, mode: 0o755 });
    libc().mknodBlockOrChar('/dev/mapper/control', 'char', 0o600, major, minor);
    controlFd = openSync('/dev/mapper/control', 'r+');
  }
  return controlFd;
}

function readMiscNumbers(): [number, number] {
  let text: string;
  try {
    text = readFileSync('/sys/class/misc/device-mapper/dev', 'utf8');
  } catch {
    throw new Error('the kernel has no device-mapper (no /dev/mapper/control, no /sys/class/misc/device-mapper): load the dm_mod module');
  }
  const [major, minor] = text.trim().split(':').map(Number);
  return [major, minor];
}

/** Runs one request; a full answer buffer is retried with a larger one, as libdevmapper does. */
export async function dmIoctl(command: DmCommand, request: DmRequest, operation: string): Promise<DmAnswer> {
  for (let bytes = FIRST_BUFFER_BYTES; ; bytes *= 2) {
    const buffer = encodeRequest(request, bytes);
    const result = await libc().ioctl(control(), requestNumber(command), buffer);
    if (result.errno !== 0) throw new DeviceMapperError(operation, request.name ?? '', getSystemErrorName(-result.errno));
    const flags = buffer.readUInt32LE(28);
    if (flags & DmFlag.bufferFull) continue;
    return {
      flags,
      openCount: buffer.readInt32LE(24),
      eventNumber: buffer.readUInt32LE(32),
      targetCount: buffer.readUInt32LE(20),
      dev: buffer.readBigUInt64LE(40),
      data: buffer.subarray(buffer.readUInt32LE(16), buffer.readUInt32LE(12)),
    };
  }
}

function encodeRequest(request: DmRequest, minimumBytes: number): Buffer {
  const payload = request.targets ? encodeTargets(request.targets) : request.message ? encodeMessage(request.message) : Buffer.alloc(0);
  const buffer = Buffer.alloc(Math.max(minimumBytes, HEADER_BYTES + payload.length));
  VERSION.forEach((part, index) => buffer.writeUInt32LE(part, index * 4));
  buffer.writeUInt32LE(buffer.length, 12);
  buffer.writeUInt32LE(HEADER_BYTES, 16);
  buffer.writeUInt32LE(request.targets?.length ?? 0, 20);
  buffer.writeUInt32LE(request.flags ?? 0, 28);
  if (request.name) writeName(buffer, request.name);
  payload.copy(buffer, HEADER_BYTES);
  return buffer;
}

function writeName(buffer: Buffer, name: string): void {
  const bytes = Buffer.from(name);
  // The kernel needs the terminating NUL inside the field.
  if (bytes.length >= NAME_BYTES) throw new Error(`device-mapper name ${JSON.stringify(name)} is longer than ${NAME_BYTES - 1} bytes`);
  if (bytes.includes(0)) throw new Error(`device-mapper name ${JSON.stringify(name)} holds a NUL byte`);
  bytes.copy(buffer, NAME_OFFSET);
}

/** Table load: each target spec's `next` is the offset from that spec to the following one, 8-byte aligned. */
function encodeTargets(targets: readonly Target[]): Buffer {
  const specs = targets.map((target) => {
    const params = Buffer.from(`${target.params}\0`);
    const spec = Buffer.alloc(align8(TARGET_SPEC_BYTES + params.length));
    spec.writeBigUInt64LE(BigInt(target.start), 0);
    spec.writeBigUInt64LE(BigInt(target.length), 8);
    spec.writeUInt32LE(spec.length, 20);
    const type = Buffer.from(target.type);
    if (type.length >= TARGET_TYPE_BYTES) throw new Error(`device-mapper target type ${JSON.stringify(target.type)} is too long`);
    type.copy(spec, 24);
    params.copy(spec, TARGET_SPEC_BYTES);
    return spec;
  });
  return Buffer.concat(specs);
}

function encodeMessage(message: { sector: number; text: string }): Buffer {
  const text = Buffer.from(`${message.text}\0`);
  const payload = Buffer.alloc(align8(8 + text.length));
  payload.writeBigUInt64LE(BigInt(message.sector), 0);
  text.copy(payload, 8);
  return payload;
}

function align8(bytes: number): number {
  return (bytes + 7) & ~7;
}

/** A table or status answer: each spec's `next` is its successor's offset from the start of the data area. */
export function decodeTargets(answer: DmAnswer): Target[] {
  const targets: Target[] = [];
  let offset = 0;
  for (let index = 0; index < answer.targetCount; index++) {
    const spec = answer.data.subarray(offset);
    targets.push({
      start: Number(spec.readBigUInt64LE(0)),
      length: Number(spec.readBigUInt64LE(8)),
      type: readCString(spec, 24, TARGET_TYPE_BYTES),
      params: readCString(spec, TARGET_SPEC_BYTES, spec.length - TARGET_SPEC_BYTES),
    });
    offset = spec.readUInt32LE(20);
  }
  return targets;
}

/** DM_LIST_DEVICES: struct dm_name_list entries (dev, next, name), `next` relative to the entry; a first dev of 0 means none. */
export function decodeNameList(answer: DmAnswer): string[] {
  const names: string[] = [];
  let offset = 0;
  for (;;) {
    const entry = answer.data.subarray(offset);
    if (entry.length < 12 || entry.readBigUInt64LE(0) === 0n) break;
    names.push(readCString(entry, 12, entry.length - 12));
    const next = entry.readUInt32LE(8);
    if (next === 0) break;
    offset += next;
  }
  return names;
}

function readCString(buffer: Buffer, offset: number, maxBytes: number): string {
  const field = buffer.subarray(offset, offset + maxBytes);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString();
}

/** huge_encode_dev's encoding, as the kernel puts it in struct dm_ioctl's dev. */
export function decodeDev(dev: bigint): { major: number; minor: number } {
  const value = Number(dev);
  return { major: (value >>> 8) & 0xfff, minor: (value & 0xff) | ((value >>> 12) & 0xfff00) };
}
