/**
 * Not a test: the process thin-reconcile.test.ts kills with SIGKILL while it
 * creates devices. It stages and publishes snapshots "k1", "k2", ... for ever,
 * printing each id once it is published. Loaded by the test runner without
 * its argument, it does nothing.
 */
import { open } from 'lmdb';
import path from 'node:path';
import { createThinBackend, thinConfigSchema } from '../../../src/backends/thin';

export const CRASH_CHILD_FLAG = '--thin-crash-child';

async function main(root: string, configJson: string): Promise<void> {
  const env = open({ path: path.join(root, 'meta') });
  const db = env.openDB({ name: 'thin' });
  const backend = await createThinBackend({ root, config: thinConfigSchema.parse(JSON.parse(configJson)), db });
  for (let n = 1; ; n++) {
    const staged = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    env.transactionSync(() => backend.publish(staged, `k${n}`));
    process.stdout.write(`published k${n}\n`);
  }
}

if (process.argv[2] === CRASH_CHILD_FLAG) {
  main(process.argv[3], process.argv[4]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
