/**
 * Wall-clock timestamps in nanoseconds with sub-millisecond resolution.
 * containerd compares snapshot times at microsecond scale, so Date.now() is too
 * coarse: the wall clock is sampled once and advanced by the monotonic
 * high-resolution clock. Successive calls never return the same value, so
 * "updated" always moves forward.
 */
const origin = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
let last = 0n;

export function nowNanos(): bigint {
  let now = origin + process.hrtime.bigint();
  if (now <= last) now = last + 1n;
  last = now;
  return now;
}
