import fs from 'node:fs/promises';

/** A group given by name or number, as a gid; names are looked up in /etc/group. */
export async function resolveGroupId(group: string | number): Promise<number> {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  const lines = (await fs.readFile('/etc/group', 'utf8')).split('\n');
  for (const line of lines) {
    const [name, , gid] = line.split(':');
    if (name === group) return Number(gid);
  }
  throw new Error(`socket group ${JSON.stringify(group)} does not exist in /etc/group`);
}
