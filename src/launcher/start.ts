/**
 * dist/csync2.cjs, what bin/csync2 starts: it compiles the one-file build dist/csync2-main.cjs
 * (scripts/bundle.mjs) with a V8 code cache and runs it. Compiling ~0.5 MB of JavaScript costs
 * every start 12-18 ms here (3-5 ms from the cache), at every cron run, every -T and every
 * connection inetd hands to -i. Measured on this noisy VM, medians of 20-50 interleaved runs:
 * `-cr` of a one-file tree 6-20 ms sooner (99 -> 93 ms at best), of tree10k with nothing
 * changed 411 -> 387 ms, `-T` 210 -> 200 ms, a 1%-touched tree10k push 345 -> 323 ms.
 *
 * The cache lives in the private cache directory (util/private-cache.ts), one file per build
 * path and node flag set (V8 refuses a cache made under other flags, and bin/csync2 picks flags
 * per mode). After a miss it is written as the process exits, so it holds the functions that run
 * compiled, not just the top level (a quarter more saved). An entry counts only when its header
 * names this node, these flags and this build file exactly as it is now (size, times, inode):
 * V8 itself checks little more than the source's length, and its checksum only when asked
 * (CHECKSUM_FLAG). Anything odd is a miss, and without a cache directory the build runs
 * through node's own loader as always.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { provideImport } from '../util/import-outside.js';
import { cacheDir, keepNewest, nameHash, readPrivateFile, trustedDir, writePrivateFile } from '../util/private-cache.js';

/** First line of a cache file; bumped when its layout changes. */
const MAGIC = 'csync2-ts code cache 1\n';
/** Cache files kept (~0.2 MB each): a host has a few flag sets, but every build path (a test clone) makes its own. */
const MAX_FILES = 12;

/** The file node's CommonJS loader would run, with the same wrapper. */
const MAIN = fileURLToPath(new URL('./csync2-main.cjs', import.meta.url));
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAP_TAIL = '\n});';

interface CacheSlot {
  dir: string;
  path: string;
  header: Buffer;
}

/**
 * Release builds of V8 take a code cache's bytes on trust: a damaged file (a disk error, a power
 * cut before the rename reached the disk) would abort every start until someone removed it. With
 * this flag V8 checks a checksum and refuses such a file like any stale entry. bin/csync2 passes
 * it (~1 ms at node's start); setting it from here would cost more than the cache saves
 * (node:v8 takes ~4 ms to load), so without it there is no cache.
 */
const CHECKSUM_FLAG = '--verify-snapshot-checksum';

/** Where this build's cache for this node and these flags goes, or null (no trusted cache directory, or no checksum). */
function cacheSlot(): CacheSlot | null {
  const dir = cacheDir();
  if (dir === null || !process.execArgv.includes(CHECKSUM_FLAG)) return null;
  const st = statSync(MAIN);
  const stamp = JSON.stringify({
    node: process.version, arch: process.arch, flags: process.execArgv, main: MAIN,
    size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, ino: st.ino,
  });
  const path = `${dir}/code-${nameHash(`${MAIN}\0${process.execArgv.join('\0')}`)}.bin`;
  return { dir, path, header: Buffer.from(`${MAGIC}${stamp}\n`) };
}

/** The V8 data of a current entry, or undefined. */
function readCache(slot: CacheSlot): Buffer | undefined {
  if (!trustedDir(slot.dir)) return undefined;
  const bytes = readPrivateFile(slot.path);
  if (bytes === null || bytes.length <= slot.header.length) return undefined;
  return bytes.subarray(0, slot.header.length).equals(slot.header) ? bytes.subarray(slot.header.length) : undefined;
}

function start(): void {
  let slot: CacheSlot | null = null;
  let cachedData: Buffer | undefined;
  try {
    slot = cacheSlot();
    if (slot) cachedData = readCache(slot);
  } catch {
    // no cache this time
  }
  // No cache to use or to make: node's own loader is ~3 ms quicker than the vm.Script below.
  if (slot === null) {
    createRequire(MAIN)(MAIN);
    return;
  }
  // The build's import() of chevrotain and of late builtins: a vm.Script has none of its own (import-outside.ts).
  provideImport((specifier) => import(specifier));
  // esbuild writes the build in ASCII (bundle.mjs; only a comment may hold other bytes), so
  // latin1 reads it right, and quicker: no UTF-8 decoding, a one-byte string for V8.
  const source = readFileSync(MAIN, 'latin1');
  const script = new Script(WRAP_HEAD + source + WRAP_TAIL, { filename: MAIN, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    const { dir, path, header } = slot;
    process.once('exit', () => {
      try {
        if (writePrivateFile(dir, path, [header, script.createCachedData()])) keepNewest(dir, 'code-', MAX_FILES);
      } catch {
        // read-only, full or foreign: compile every time
      }
    });
  }
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)
    .call(module.exports, module.exports, createRequire(MAIN), module, MAIN, dirname(MAIN));
}

start();
