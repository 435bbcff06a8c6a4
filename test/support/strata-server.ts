import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { stringify } from 'smol-toml';
import { thinConfigSchema, type ThinConfigInput } from '../../src/backends/thin';
import { strataConfigSchema } from '../../src/config/schema';
import { createLogger } from '../../src/log/logger';
import { serve, type RunningServer } from '../../src/server/serve';

export interface TestServer {
  root: string;
  address: string;
  client: SnapshotsClient;
  server: RunningServer;
  /** Stops the server and removes its root. */
  close(): Promise<void>;
}

/** The backend the shared behaviour suite runs against: overlay on the host, thin inside the VM. */
export const TEST_BACKEND = (process.env.STRATA_TEST_BACKEND ?? 'overlay') as 'overlay' | 'thin';

/**
 * The overlay object-store setting test servers use: the default ("auto",
 * on where the kernel has data-only layers) unless STRATA_TEST_OBJECT_STORE
 * names another, so the same suites run in both modes.
 */
export const TEST_OBJECT_STORE = strataConfigSchema.shape.overlay.parse({ object_store: process.env.STRATA_TEST_OBJECT_STORE });

/** A small loopback pool: sparse files, a base device quick to format under emulation. */
const TEST_THIN_OPTIONS: ThinConfigInput = { data_size: '2GiB', metadata_size: '64MiB', base_image_size: '64MiB' };
const TEST_THIN_CONFIG = thinConfigSchema.parse(TEST_THIN_OPTIONS);

/**
 * The part of a `strata serve` config file that selects TEST_BACKEND (with
 * the test pool's options on thin), for tests that run strata as a process.
 * It ends in a table: put it after the file's other top-level keys.
 */
export function testBackendConfig(): string {
  return stringify(TEST_BACKEND === 'thin' ? { backend: 'thin', thin: TEST_THIN_OPTIONS } : { backend: 'overlay', overlay: TEST_OBJECT_STORE });
}

/** A real strata server in this process, on a unix socket in a fresh temporary root. */
export async function startTestServer(
  options: { syncRemove?: boolean; metricsAddress?: string; socketGroup?: string } = {},
): Promise<TestServer> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-'));
  const address = path.join(root, 'strata.sock');
  const server = await serve(
    {
      root,
      address,
      backend: TEST_BACKEND,
      sync_remove: options.syncRemove ?? false,
      metrics_address: options.metricsAddress,
      socket_group: options.socketGroup,
      overlay: TEST_OBJECT_STORE,
      thin: TEST_THIN_CONFIG,
      diff: strataConfigSchema.shape.diff.parse(undefined),
    },
    createLogger('error'),
  );
  const client = new SnapshotsClient(address);
  return {
    root,
    address,
    client,
    server,
    async close() {
      client.close();
      await server.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

/** The gRPC code name a rejected call failed with (e.g. "NotFound"), or "OK" if it succeeded. */
export async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (err) {
    return (err as { codeName?: string }).codeName ?? `untyped: ${String(err)}`;
  }
}
