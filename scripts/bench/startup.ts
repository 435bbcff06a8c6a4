/**
 * Start-up times: how long `strata` takes for a CLI command, and how long
 * `strata serve` (overlay backend) takes after a kill -9 until it answers a
 * snapshots Stat, next to `node -e 0` (the floor of any Node.js program),
 * Node.js loading node:http2 (the floor of any gRPC client on it) and
 * containerd's overlayfs snapshotter (refsnap, when the harness has it). One
 * of each per round, so machine noise hits them alike; medians and their
 * ratio to the goal (CLI 100 ms, serve 200 ms).
 *
 *   node dist/scripts/bench/startup.js [--rounds N] [--bin MAIN_JS]
 *
 * --bin times another build's dist/src/cli/launch.js (a before/after comparison).
 *
 * Every program runs without NODE_EXTRA_CA_CERTS, as under strata.service and
 * the installed `strata` wrapper: Node.js reads and parses that CA bundle at
 * every start (90 ms on the development machine, whose shell sets it), and
 * strata opens no TLS connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { grpcTarget } from '../../src/client/snapshots-client';
import { loadService, SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE } from '../../src/server/proto';
import { accepts, STRATA_BIN } from '../../test/support/strata-process';
import { numberArg } from './args';
import { median, printTable } from './stats';

const ROUNDS = numberArg('rounds', 30);
const BIN = process.argv.includes('--bin') ? path.resolve(process.argv[process.argv.indexOf('--bin') + 1]) : STRATA_BIN;
const REFSNAP = '/var/cache/strata-harness/bin/refsnap';
const CLI_GOAL_MS = 100;
const SERVE_GOAL_MS = 200;

interface Series {
  name: string;
  goalMs?: number;
  samples: number[];
}

const sinceMs = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;

const { NODE_EXTRA_CA_CERTS: _ignored, ...CHILD_ENV } = process.env;

/** Runs a program to its end and returns its wall time; a failure ends the benchmark. */
async function timeRun(command: string, args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], env: CHILD_ENV });
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = sinceMs(started);
  if (code !== 0) throw new Error(`${[command, ...args].join(' ')} exited with ${code}`);
  return ms;
}

/** Stat of a key that does not exist: any answer but Unavailable means the server serves. */
function statAnswers(address: string): Promise<boolean> {
  const Snapshots = loadService(SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE);
  const client = new Snapshots(grpcTarget(address), grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    (client as any).Stat({ snapshotter: '', key: 'startup-bench-missing' }, (err: grpc.ServiceError | null) => {
      client.close();
      resolve(err === null || err.code !== grpc.status.UNAVAILABLE);
    });
  });
}

/** Starts a server and returns it with the time from spawn until it answered. */
async function startServer(command: string, args: string[], address: string): Promise<{ child: ChildProcess; ms: number }> {
  const started = process.hrtime.bigint();
  // Servers log their start; a failure shows as an exit before answering.
  const child = spawn(command, args, { stdio: 'ignore', env: CHILD_ENV });
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${command} exited before answering`);
    if ((await accepts(address)) && (await statAnswers(address))) return { child, ms: sinceMs(started) };
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** SIGKILL is a crash: the next start finds the stale socket, lock and pid; SIGTERM an orderly stop. */
async function stop(child: ChildProcess, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

async function main() {
  const dir = await fs.mkdtemp('/tmp/startup-bench-');
  const strataAddress = path.join(dir, 'strata.sock');
  const strataArgs = [BIN, 'serve', '--root', path.join(dir, 'strata'), '--address', strataAddress, '--backend', 'overlay', '--log-level', 'warn'];
  const refsnapAddress = path.join(dir, 'refsnap.sock');
  const refsnapArgs = ['--root', path.join(dir, 'refsnap'), '--address', refsnapAddress];
  const withRefsnap = existsSync(REFSNAP);
  const cli = (name: string, ...args: string[]) => ({ name: `strata ${name}`, args, goalMs: CLI_GOAL_MS, samples: [] as number[] });
  const floor: Series = { name: 'node -e 0', samples: [] };
  // What any gRPC client on Node.js loads before its gRPC library: HTTP/2 (and with it TLS).
  const http2Floor: Series = { name: "node -e \"require('node:http2')\"", samples: [] };
  const commands = [cli('--version', '--version'), cli('--help', '--help'), cli('snapshot ls (server running)', '--address', strataAddress, 'snapshot', 'ls')];
  const serve: Series = { name: 'strata serve until answering (overlay, after kill -9)', goalMs: SERVE_GOAL_MS, samples: [] };
  const refsnap: Series = { name: "containerd's overlayfs until answering (refsnap)", samples: [] };
  try {
    // A first start creates the roots, and its orderly stop the code cache of
    // `serve` (launch.ts); every timed start is a restart after a crash.
    await stop((await startServer(process.execPath, strataArgs, strataAddress)).child, 'SIGTERM');
    if (withRefsnap) await stop((await startServer(REFSNAP, refsnapArgs, refsnapAddress)).child, 'SIGKILL');
    for (let round = 0; round < ROUNDS; round++) {
      floor.samples.push(await timeRun(process.execPath, ['-e', '0']));
      http2Floor.samples.push(await timeRun(process.execPath, ['-e', "require('node:http2')"]));
      const strata = await startServer(process.execPath, strataArgs, strataAddress);
      serve.samples.push(strata.ms);
      for (const command of commands) command.samples.push(await timeRun(process.execPath, [BIN, ...command.args]));
      await stop(strata.child, 'SIGKILL');
      if (withRefsnap) {
        const reference = await startServer(REFSNAP, refsnapArgs, refsnapAddress);
        refsnap.samples.push(reference.ms);
        await stop(reference.child, 'SIGKILL');
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  const rows = [['command', 'median ms', 'goal ms', 'median/goal', 'median/floor']];
  for (const s of [floor, http2Floor, ...commands, serve, ...(withRefsnap ? [refsnap] : [])]) {
    const ms = median(s.samples);
    rows.push([s.name, ms.toFixed(1), s.goalMs?.toString() ?? '-', s.goalMs ? (ms / s.goalMs).toFixed(2) : '-', (ms / median(floor.samples)).toFixed(2)]);
  }
  console.log(`\nStart-up, ${ROUNDS} rounds alternating${withRefsnap ? '' : ` (no ${REFSNAP})`}`);
  printTable(rows);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
