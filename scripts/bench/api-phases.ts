/** Snapshot-API latency phases run against two servers in turn, and the table comparing them. */
import type { SnapshotsClient } from '../../src/client/snapshots-client';
import { median, percentile, timeMs } from './stats';

export interface ApiTarget {
  name: string;
  client: SnapshotsClient;
  /** Latencies in ms by phase label. */
  samples: Map<string, number[]>;
}

/** `--NAME N` from the command line, else `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Times `op` once per key on each target in turn, so machine noise hits both alike. */
export async function runPhase(
  targets: ApiTarget[],
  label: string,
  keys: string[],
  op: (client: SnapshotsClient, key: string) => Promise<unknown>,
): Promise<void> {
  for (const target of targets) {
    const samples = target.samples.get(label) ?? [];
    for (const key of keys) samples.push(await timeMs(() => op(target.client, key)));
    target.samples.set(label, samples);
  }
}

/** One row per phase: median and p99 of `left` and `right`, and the ratio of medians numerator/denominator. */
export function comparisonRows(left: ApiTarget, right: ApiTarget, numerator: ApiTarget, denominator: ApiTarget, digits: number): string[][] {
  const rows = [['operation', `${left.name} median ms`, 'p99', `${right.name} median ms`, 'p99', `${numerator.name}/${denominator.name}`]];
  for (const label of left.samples.keys()) {
    const cells = [left, right].flatMap((t) => [median(t.samples.get(label)!).toFixed(digits), percentile(t.samples.get(label)!, 99).toFixed(digits)]);
    const ratio = median(numerator.samples.get(label)!) / median(denominator.samples.get(label)!);
    rows.push([label, ...cells, ratio.toFixed(2)]);
  }
  return rows;
}
