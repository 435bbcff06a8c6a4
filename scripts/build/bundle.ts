/**
 * `npm run build` step: the compiled CLI (with the server) and the apply
 * worker, each as one file under dist/bundle/, which `strata` runs through
 * src/cli/launch.ts. One file instead of ~300 modules spares start-up the
 * module resolution, and gives V8 one script whose compiled code the
 * launcher can cache (see launch.ts).
 *
 *   node dist/scripts/build/bundle.js
 */
import fs from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { PACKAGE_ROOT } from '../../src/package-root';

export const BUNDLE_DIR = path.join(PACKAGE_ROOT, 'dist', 'bundle');

/**
 * lmdb's JavaScript goes into the bundle (compiling it was a tenth of
 * `serve`'s start), but it finds its native addon, its compression
 * dictionary and its own require() from its file's path: each `__filename`
 * there becomes where lmdb's entry point resolves at run time, in the
 * installed node_modules. A release of lmdb without them fails the build.
 */
const lmdbFindsItself: Plugin = {
  name: 'lmdb-finds-itself',
  setup(plugin) {
    plugin.onLoad({ filter: /\/node_modules\/lmdb\/dist\/index\.cjs$/ }, (file) => {
      const source = fs.readFileSync(file.path, 'utf8');
      const uses = source.split("'file:' + __filename").length - 1;
      if (uses !== 3) throw new Error(`lmdb's ${file.path} names its own path ${uses} times, not the 3 this build rewrites`);
      return { contents: source.replaceAll("'file:' + __filename", "'file:' + require.resolve('lmdb')"), loader: 'js' };
    });
  },
};

/**
 * msgpackr, under lmdb, loads msgpackr-extract's native addon when it can:
 * its module took 7.5 ms of a start to load, 0.4 ms without the addon
 * (dlopen and node-gyp-build's search for the binary). It speeds up
 * decoding long strings; strata's records are short, and a full read of
 * 10,000 of them took as long without it (21-25 ms either way). An empty
 * module in its place is what msgpackr finds when the optional package is
 * not installed.
 */
const withoutMsgpackrExtract: Plugin = {
  name: 'without-msgpackr-extract',
  setup(plugin) {
    plugin.onResolve({ filter: /^msgpackr-extract$/ }, () => ({ path: 'msgpackr-extract', namespace: 'absent' }));
    plugin.onLoad({ filter: /.*/, namespace: 'absent' }, () => ({ contents: 'module.exports = undefined;', loader: 'js' }));
  },
};

if (require.main === module) {
  const compiled = path.join(PACKAGE_ROOT, 'dist', 'src');
  void build({
    entryPoints: {
      strata: path.join(compiled, 'cli', 'main.js'),
      // changeset-thread.ts starts it by path, beside itself: dist/bundle/ here as dist/src/changeset/ unbundled.
      'changeset-worker': path.join(compiled, 'changeset', 'changeset-worker.js'),
    },
    outdir: BUNDLE_DIR,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Native addons load their binaries from their own package directories; bun:ffi is in a branch for Bun.
    external: ['@napi-rs/xattr', 'koffi', 'bun:ffi'],
    plugins: [lmdbFindsItself, withoutMsgpackrExtract],
    // Less to parse at each start; identifiers stay, so stack traces keep their names.
    minifyWhitespace: true,
    minifySyntax: true,
    // Non-ASCII characters escaped: the launcher reads the bundle as latin1.
    charset: 'ascii',
    logLevel: 'warning',
    // lmdbFindsItself's require.resolve('lmdb') runs in the installed package, as intended.
    logOverride: { 'require-resolve-not-external': 'silent' },
  }).catch(() => {
    // esbuild has printed why.
    process.exit(1);
  });
}
