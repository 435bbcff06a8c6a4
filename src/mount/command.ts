import { runTool, ToolError } from '../exec/run-tool';
import type { Tool } from '../exec/tools';

/** The programs this module runs. */
export const MOUNT_TOOLS = ['mount', 'umount'] as const satisfies Tool[];

/** Runs mount(8) or umount(8); resolves when it exits 0, rejects with a ToolError. */
export async function runMountTool(command: (typeof MOUNT_TOOLS)[number], args: string[], cwd?: string): Promise<void> {
  await runTool(command, args, { cwd });
}

/** umount(8) reports EBUSY only through its message. */
export function isBusy(err: unknown): boolean {
  return err instanceof ToolError && /busy/i.test(err.stderr);
}
