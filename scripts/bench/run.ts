/** `npm run bench`: every benchmark in turn, each in its own process so one's memory does not skew another. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const BENCHMARKS = ['startup', 'snapshots', 'store-commit', 'transport', 'changeset', 'snapshot-diff', 'thin', 'import', 'object-store'];

let failed = false;
for (const name of BENCHMARKS) {
  const script = path.join(__dirname, `${name}.js`);
  if (!fs.existsSync(script)) continue;
  console.log(`\n=== ${name} ===`);
  const result = spawnSync(process.execPath, [script, ...process.argv.slice(2)], { stdio: 'inherit' });
  failed ||= result.status !== 0;
}
process.exit(failed ? 1 : 0);
