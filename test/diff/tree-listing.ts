import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

async function fileHash(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex').slice(0, 16);
}

/**
 * One line per object under `root` in sorted path order: type, mode,
 * owner, size, link count, and content hash or link target, so that two
 * trees can be compared with deepEqual. Directory sizes depend on the file
 * system, so they are left out.
 */
export async function treeListing(root: string): Promise<string[]> {
  const lines: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, relPath);
      const st = await fs.lstat(abs);
      const mode = (st.mode & 0o7777).toString(8);
      const common = `${relPath} mode=${mode} owner=${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        lines.push(`${common} dir`);
        await walk(relPath);
      } else if (st.isSymbolicLink()) {
        lines.push(`${common} symlink -> ${await fs.readlink(abs)}`);
      } else if (st.isFile()) {
        lines.push(`${common} file size=${st.size} links=${st.nlink} sha=${await fileHash(abs)}`);
      } else {
        lines.push(`${common} special rdev=${st.rdev}`);
      }
    }
  }
  await walk('');
  return lines;
}
