/**
 * `npm run build` step: the compiled CLI (with the server) and the apply
 * worker, each as one file under dist/bundle/, which `strata` runs through
 * src/cli/launch.ts. One file instead of ~300 modules spares start-up the
 * module resolution, and gives V8 one script whose compiled code the
 * launcher can cache (see launch.ts).
 *
 *   node dist/scripts/build/bundle.js
 */
import path from 'node:path';
import { buildSync } from 'esbuild';
import { PACKAGE_ROOT } from '../../src/package-root';

export const BUNDLE_DIR = path.join(PACKAGE_ROOT, 'dist', 'bundle');

if (require.main === module) {
  const compiled = path.join(PACKAGE_ROOT, 'dist', 'src');
  buildSync({
    entryPoints: {
      strata: path.join(compiled, 'cli', 'main.js'),
      // apply-thread.ts starts it by path, beside itself: dist/bundle/ here as dist/src/changeset/ unbundled.
      'apply-worker': path.join(compiled, 'changeset', 'apply-worker.js'),
    },
    outdir: BUNDLE_DIR,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Native addons load their binaries from their own package directories.
    external: ['lmdb', '@napi-rs/xattr'],
    // Less to parse at each start; identifiers stay, so stack traces keep their names.
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
  });
}
