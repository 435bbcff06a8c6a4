import { createHash } from 'node:crypto';

/** containerd names committed layer snapshots by chain id (OCI image spec, "ChainID"). */
export function chainIds(diffIds: string[]): string[] {
  const chain: string[] = [];
  for (const diffId of diffIds) {
    const parent = chain.at(-1);
    chain.push(parent === undefined ? diffId : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`);
  }
  return chain;
}
