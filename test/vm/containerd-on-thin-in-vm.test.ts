import { test } from 'node:test';
import { assertSuitesPassInVm, whyNoVm } from './suites-in-vm';

/**
 * The VM's own timeout, room for two boots (run.sh boots again after a guest
 * kernel lockup); the test waits a little longer so run.sh can report it.
 */
const VM_TIMEOUT_S = 900;

test('the containerd end-to-end suites pass with strata on thin inside a VM', { skip: whyNoVm(), timeout: (VM_TIMEOUT_S + 60) * 1000 }, async () => {
  await assertSuitesPassInVm({
    // strata as containerd's snapshotter (every ctr snapshot subcommand, images,
    // containers, garbage collection, restarts) and as its differ.
    suites: ['dist/test/e2e/strata-snapshotter.test.js', 'dist/test/diff/containerd-differ.test.js'],
    timeoutS: VM_TIMEOUT_S,
    // Under the emulated CPU, node loads its modules over 9p in tens of seconds: a
    // strata start takes up to a minute there, a containerd start several seconds.
    env: { STRATA_TEST_BACKEND: 'thin', STRATA_TEST_TIME_SCALE: '12' },
    // containerd, its shims and strata's loopback pool files share the guest's RAM.
    memoryMiB: 3072,
  });
});
