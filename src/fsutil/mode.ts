/**
 * The process's umask. Reading it sets it twice (Node.js has no read-only
 * call), so callers read it once when they are set up.
 */
export function currentUmask(): number {
  return process.umask();
}

/**
 * Whether a file or dir created with `mode` under `umask` needs a chmod to
 * get exactly that mode: it has setuid/setgid/sticky bits, which creation
 * drops, or bits the umask takes away.
 */
export function modeNeedsChmod(mode: number, umask: number): boolean {
  return (mode & 0o7000) !== 0 || (mode & umask) !== 0;
}
