import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { failedPrecondition, type SnapshotError } from '../snapshots/errors';

/**
 * Every program the server runs, with the Debian package that ships it. The
 * runners in this directory take only these names, and `scripts/install.sh`
 * installs these packages (printed by `scripts/runtime-packages.ts`), so a
 * program added here is installed, and one not added cannot be run.
 */
export const TOOL_PACKAGES = {
  mount: 'mount',
  umount: 'mount',
  losetup: 'mount',
  blkdiscard: 'util-linux',
  tar: 'tar',
  zstd: 'zstd',
  dmsetup: 'dmsetup',
  'mkfs.ext4': 'e2fsprogs',
  resize2fs: 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
  xfs_growfs: 'xfsprogs',
  // Runs only under a systemd unit (Type=notify), where systemd brings it.
  'systemd-notify': 'systemd',
} as const;

export type Tool = keyof typeof TOOL_PACKAGES;

/**
 * The Debian packages `scripts/install.sh` installs: those of every tool but
 * systemd-notify, which runs only where systemd (and so the tool) is.
 */
export function runtimePackages(): string[] {
  const packages = Object.entries(TOOL_PACKAGES).filter(([tool]) => tool !== 'systemd-notify').map(([, pkg]) => pkg);
  return [...new Set(packages)];
}

/** "dmsetup (Debian package 'dmsetup')": what an operator needs to fix it. */
export function describeTool(tool: Tool): string {
  return `${tool} (Debian package '${TOOL_PACKAGES[tool]}')`;
}

/**
 * A tool that could not be started because it is not installed: the call
 * fails with FailedPrecondition (fix the machine, then retry), not Unknown.
 */
export function missingTool(tool: Tool, cause: Error): SnapshotError {
  return failedPrecondition(`cannot run ${describeTool(tool)}: ${cause.message}`);
}

/** Whether spawning failed because the program does not exist (as opposed to failing once started). */
export function isNotInstalled(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'ENOENT';
}

function onPath(tool: string, searchPath: string): boolean {
  return searchPath.split(':').some((dir) => {
    try {
      accessSync(path.join(dir || '.', tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Throws, naming each missing tool and its package, unless every tool is an
 * executable on PATH. Run at start-up so a missing package stops the server
 * at once instead of failing calls later.
 */
export function checkTools(tools: Iterable<Tool>, searchPath = process.env.PATH ?? ''): void {
  const missing = [...new Set(tools)].filter((tool) => !onPath(tool, searchPath));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => TOOL_PACKAGES[tool]))].join(' ');
  throw new Error(
    `not found on PATH: ${missing.map(describeTool).join(', ')}; install with: apt-get install ${packages}`,
  );
}
