/**
 * Drops the lines or names of `lost+found` and what it holds: a thin
 * snapshot is an ext4 file system whose root has mkfs's lost+found, as with
 * containerd's devmapper snapshotter, while overlay trees have none.
 */
export function withoutLostAndFound(lines: string[]): string[] {
  return lines.filter((line) => !/^\/?lost\+found(\/| |$)/.test(line));
}
