import { performance } from 'node:perf_hooks';

/**
 * Wall-clock timestamps in nanoseconds with sub-millisecond resolution.
 * containerd compares snapshot times at microsecond scale (its suite checks
 * that Update's time falls between the client's clock readings around the
 * call), so Date.now() is too coarse: the wall clock is sampled with
 * microsecond precision (performance.timeOrigin comes from gettimeofday,
 * where Date.now() truncates to the millisecond and would put every time up
 * to 1 ms early) and advanced by the monotonic high-resolution clock. Should
 * the two clocks drift apart (NTP slews the wall clock) by more than
 * MAX_DRIFT_NS, the origin is taken again from Date.now(). Successive calls
 * never return the same value, so "updated" always moves forward.
 */
const MAX_DRIFT_NS = 2_000_000n;
const NS_PER_MS = 1_000_000n;

let origin = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - process.hrtime.bigint();
let last = 0n;

export function nowNanos(): bigint {
  const monotonic = process.hrtime.bigint();
  let now = origin + monotonic;
  // The middle of the millisecond Date.now() names is the best guess at the true time.
  const wall = BigInt(Date.now()) * NS_PER_MS + NS_PER_MS / 2n;
  if (now - wall > MAX_DRIFT_NS || wall - now > MAX_DRIFT_NS) {
    origin = wall - monotonic;
    now = wall;
  }
  if (now <= last) now = last + 1n;
  last = now;
  return now;
}
