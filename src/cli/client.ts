import type { Command } from 'commander';
import { SnapshotsClient } from '../client/snapshots-client';
import { DEFAULT_ADDRESS } from '../config/defaults';
import { SnapshotKeys } from './snapshot-keys';

interface ClientFlags {
  address?: string;
  namespace?: string;
}

/** The server socket for client commands: `--address`, else $STRATA_ADDRESS, else the default socket. */
export function clientAddress(command: Command): string {
  const { address } = command.optsWithGlobals<ClientFlags>();
  return address ?? process.env.STRATA_ADDRESS ?? DEFAULT_ADDRESS;
}

/**
 * Runs `use` with a client connected to the server and the keys the user
 * gives read as `--namespace` says, closing the client afterwards.
 */
export async function withClient<T>(command: Command, use: (client: SnapshotsClient, keys: SnapshotKeys) => Promise<T>): Promise<T> {
  const client = new SnapshotsClient(clientAddress(command));
  const keys = new SnapshotKeys(client, command.optsWithGlobals<ClientFlags>().namespace);
  try {
    return await use(client, keys);
  } catch (err) {
    throw await keys.explain(err);
  } finally {
    client.close();
  }
}
