#!/usr/bin/env node
/**
 * What `strata` runs: the bundled CLI (dist/bundle/strata.js, built from
 * main.ts by scripts/build/bundle.ts) with a V8 code cache. Compiling the
 * bundle's JavaScript was the largest part of every start, so the first run
 * of each command keeps V8's compiled code beside the bundle and later runs
 * load it instead of compiling, as Python keeps .pyc files in __pycache__.
 *
 * V8 checks a cache against the script's source, its own version and its
 * flags and rejects it on any difference; a rejected or missing cache is
 * written afresh at a successful exit. Only what a process compiled by its
 * exit is in a cache, so `serve` and the client commands each get their own,
 * and a run that failed or only printed help, which compiled little of its
 * command, does not write the cache its command's later runs would load.
 *
 * This file loads nothing of strata's but the bundle.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

const BUNDLE = path.join(__dirname, '..', '..', 'bundle', 'strata.js');
const CACHE_DIR = path.join(path.dirname(BUNDLE), 'code-cache');

/**
 * Which compiled code a run needs depends on its command; the first
 * lowercase word of the arguments names it (or, after `-n`, a namespace: that
 * only costs another cache file). Help of any command is one more.
 */
export function cacheName(args: string[], version = process.version, arch = process.arch): string {
  const asksHelp = args.some((arg) => arg === '--help' || arg === '-h') || args[0] === 'help';
  const command = asksHelp ? 'help' : (args.find((arg) => /^[a-z]{1,32}$/.test(arg)) ?? 'none');
  return `${command}-${version}-${arch}.bin`;
}

/**
 * A cache is compiled code this process will run, so it is used only when
 * written by root or by this user and writable by no one else.
 */
function readTrustedCache(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    const trustedOwner = stat.uid === 0 || stat.uid === process.geteuid?.();
    if (!stat.isFile() || !trustedOwner || (stat.mode & 0o022) !== 0) return undefined;
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomically, so a concurrent run reads the old cache or the new one; a read-only install just goes without. */
function writeCache(file: string, data: Buffer): void {
  const staging = `${file}.${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fs.writeFileSync(staging, data, { mode: 0o644 });
    fs.renameSync(staging, file);
  } catch {
    // Runs at exit, so nothing may throw from here.
    try {
      fs.unlinkSync(staging);
    } catch {
      // Never written, or in a directory this user cannot change.
    }
  }
}

function run(): void {
  // ASCII (bundle.ts), so latin1 reads it exactly, several times faster than utf8.
  const source = fs.readFileSync(BUNDLE, 'latin1');
  const cacheFile = path.join(CACHE_DIR, cacheName(process.argv.slice(2)));
  const cachedData = readTrustedCache(cacheFile);
  const script = new vm.Script(Module.wrap(source), { filename: BUNDLE, cachedData });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once('exit', (code) => {
      if (code === 0) writeCache(cacheFile, script.createCachedData());
    });
  }
  const bundle = new Module(BUNDLE);
  bundle.filename = BUNDLE;
  const require = createRequire(BUNDLE);
  (script.runInThisContext() as (...args: unknown[]) => void).call(bundle.exports, bundle.exports, require, bundle, BUNDLE, path.dirname(BUNDLE));
}

if (require.main === module) run();
