import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runTool } from '../../exec/run-tool';

/** losetup(8): the loop devices behind a loopback thin-pool. */

/** The loop device already backed by `file`, if any. */
export async function findLoop(file: string): Promise<string | undefined> {
  const out = await runTool('losetup', ['--noheadings', '--output', 'NAME', '--associated', file]);
  return out.split('\n').map((line) => line.trim()).find((line) => line !== '');
}

/** Attaches `file` to a free loop device (or returns the one it has) and returns its path. */
export async function attach(file: string): Promise<string> {
  const existing = await findLoop(file);
  if (existing) return existing;
  return (await runTool('losetup', ['--find', '--show', file])).trim();
}

export async function detach(device: string): Promise<void> {
  await runTool('losetup', ['--detach', device]);
}

/** Makes the loop device see its backing file's new size. */
export async function refreshCapacity(device: string): Promise<void> {
  await runTool('losetup', ['--set-capacity', device]);
}

/** "MAJOR:MINOR" of a block device, the form device-mapper tables take. */
export async function deviceNumber(device: string): Promise<string> {
  return (await readFile(path.join('/sys/class/block', path.basename(device), 'dev'), 'utf8')).trim();
}
