import type { Command } from 'commander';
import { SnapshotsClient } from '../client/snapshots-client';
import { DEFAULT_ADDRESS } from '../config/schema';

/** The server socket for client commands: `--address`, else $STRATA_ADDRESS, else the default socket. */
export function clientAddress(command: Command): string {
  const { address } = command.optsWithGlobals<{ address?: string }>();
  return address ?? process.env.STRATA_ADDRESS ?? DEFAULT_ADDRESS;
}

/** Runs `use` with a client connected to the server, closing it afterwards. */
export async function withClient<T>(command: Command, use: (client: SnapshotsClient) => Promise<T>): Promise<T> {
  const client = new SnapshotsClient(clientAddress(command));
  try {
    return await use(client);
  } finally {
    client.close();
  }
}
