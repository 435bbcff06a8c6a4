import { test } from 'node:test';
import { assertSuitesPassInVm, whyNoVm } from './suites-in-vm';

/**
 * The VM's own timeout, room for two boots (run.sh boots again after a guest
 * kernel lockup); the test waits a little longer so run.sh can report it.
 */
const VM_TIMEOUT_S = 1200;

test('the thin backend and the shared snapshot suite pass on thin inside a VM with device-mapper', { skip: whyNoVm(), timeout: (VM_TIMEOUT_S + 60) * 1000 }, async () => {
  await assertSuitesPassInVm({
    // The thin backend's own tests, and the backend-neutral suites run against it;
    // and on the guest's kernel (6.1, no data-only layers), overlay's choice of plain mode.
    suites: [
      'dist/test/backends/thin', 'dist/test/snapshots/conformance.test.js', 'dist/test/cli/status.test.js', 'dist/test/server/operations.test.js',
      'dist/test/backends/overlay/object-store.test.js',
    ],
    timeoutS: VM_TIMEOUT_S,
    env: { STRATA_TEST_BACKEND: 'thin' },
  });
});
