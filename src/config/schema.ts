import * as path from 'node:path';
import { z } from 'zod';
import { logLevels } from '../log/logger';
import { thinConfigSchema } from '../backends/thin/config';
import { DEFAULT_ADDRESS, DEFAULT_ROOT } from './defaults';

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

const absolutePath = z.string().refine((p) => path.isAbsolute(p), 'expected an absolute path');

const socketPath = absolutePath.refine(
  (p) => Buffer.byteLength(p) <= MAX_SOCKET_PATH_BYTES,
  `expected a unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes`,
);

/** host:port, with an empty host meaning every interface and IPv6 hosts in brackets. */
const hostPort = z.string().refine((value) => {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]*):(\d{1,5})$/.exec(value);
  return match !== null && Number(match[2]) <= 65535;
}, 'expected host:port like "127.0.0.1:9100"');

const GROUP_MESSAGE = 'expected a group name or a numeric gid';
const socketGroup = z
  .union([z.string(), z.number()], { error: GROUP_MESSAGE })
  .refine((group) => (typeof group === 'string' ? group !== '' : Number.isInteger(group) && group >= 0), GROUP_MESSAGE);

const diffSchema = z.strictObject({
  containerd_address: socketPath.default('/run/containerd/containerd.sock'),
  /** Proxy differs are not told the caller's namespace (containerd issue 12328). */
  namespace: z.string().min(1).default('default'),
});

const overlaySchema = z.strictObject({
  /**
   * Keep each file's content once, in a store all layers share (overlayfs
   * data-only layers, Linux 6.5+): "auto" where the kernel can, "on" or
   * refuse to start, "off" never.
   */
  object_store: z.enum(['auto', 'on', 'off']).default('auto'),
});

/** The TOML configuration file; keys are snake_case like containerd's. */
export const strataConfigSchema = z.strictObject({
  root: absolutePath.default(DEFAULT_ROOT),
  address: socketPath.default(DEFAULT_ADDRESS),
  backend: z.enum(['overlay', 'thin']).default('overlay'),
  log_level: z.enum(logLevels).default('info'),
  /** Group that may use the socket (mode 0660, owned by root); root only when unset. */
  socket_group: socketGroup.optional(),
  sync_remove: z.boolean().default(false),
  /** Prometheus endpoint; no metrics server when unset. */
  metrics_address: hostPort.optional(),
  /** A file the server writes its pid to while serving (for init scripts without systemd); none when unset. */
  pid_file: absolutePath.optional(),
  diff: diffSchema.prefault({}),
  /** Read only when backend is "overlay", but checked always. */
  overlay: overlaySchema.prefault({}),
  /** Read only when backend is "thin", but checked always so a typo never waits for a backend switch. */
  thin: thinConfigSchema.prefault({}),
});

export type StrataConfig = z.output<typeof strataConfigSchema>;
export type StrataConfigInput = z.input<typeof strataConfigSchema>;
