import { setTimeout as sleep } from 'node:timers/promises';
import type { StrataProcess } from './strata-process';

/**
 * Runs `workers` loops of `step` against `server` until it is killed with
 * SIGKILL after `delayMs`, and returns once it is gone and every loop has
 * stopped. A step the kill cut short may fail; a failure before it fails
 * the round.
 */
export async function killWhileWorking(server: StrataProcess, delayMs: number, workers: number, step: () => Promise<void>): Promise<void> {
  let killed = false;
  const loop = async () => {
    while (!killed) {
      try {
        await step();
      } catch (err) {
        if (!killed) throw err;
      }
    }
  };
  const running = Array.from({ length: workers }, loop);
  await sleep(delayMs);
  killed = true;
  server.child.kill('SIGKILL');
  await server.exited;
  await Promise.all(running);
}
