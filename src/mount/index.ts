/** Mounting and unmounting containerd-style mounts with util-linux mount(8) and umount(8). */
export { MOUNT_TOOLS } from './command';
export { mountAll } from './mount';
export { isMountPoint, readMountInfo, topMountAt, type MountInfoEntry } from './mountinfo';
export { MOUNT_DATA_LIMIT } from './overlay-options';
export { unmount, type UnmountOptions } from './unmount';
export { withMounts } from './with-mounts';
