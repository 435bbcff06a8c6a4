/**
 * Multiplies a test's time limit. The VM runs its tests on a software-emulated
 * CPU, several times slower than the host, and sets STRATA_TEST_TIME_SCALE so
 * that limits meant to catch hangs do not catch slowness instead.
 */
export function scaledMs(ms: number): number {
  const scale = Number(process.env.STRATA_TEST_TIME_SCALE ?? 1);
  return Number.isFinite(scale) && scale >= 1 ? ms * scale : ms;
}
