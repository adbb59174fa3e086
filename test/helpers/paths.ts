/** Where the programs under test live. This file runs compiled as dist/test/helpers/paths.js. */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: dist/test/helpers/ -> three levels up. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The real csync2 2.0 (Debian package). */
export const REAL_CSYNC2 = '/usr/sbin/csync2';
/** Our launcher (bin/csync2 -> dist/csync2.cjs, or dist/src/cli/main.js without the bundle). */
export const OUR_CSYNC2 = resolve(REPO_ROOT, 'bin', 'csync2');
/** What bin/csync2 runs: the loader (src/launcher/start.ts) of the one-file build of dist/src (scripts/bundle.mjs; `make build` makes both). */
export const OUR_ENTRY = resolve(REPO_ROOT, 'dist', 'csync2.cjs');
export const SQLITE3 = '/usr/bin/sqlite3';

export type Impl = 'ours' | 'real';

/**
 * The argv prefix that starts one implementation (ours runs under the node running the tests, with
 * the flag bin/csync2 gives every mode that lets dist/csync2.cjs use its code cache).
 */
export function implCommand(impl: Impl): string[] {
  if (impl === 'ours') checkEntryFresh();
  return impl === 'real' ? [REAL_CSYNC2] : [process.execPath, '--verify-snapshot-checksum', OUR_ENTRY];
}

let entryChecked = false;

/** Tests of a bundle older than the compiled modules would test old code (tsc ran without `make build`). */
function checkEntryFresh(): void {
  if (entryChecked) return;
  const bundle = statSync(OUR_ENTRY, { throwIfNoEntry: false });
  const tsc = statSync(resolve(REPO_ROOT, 'dist', '.tsbuildinfo'), { throwIfNoEntry: false });
  if (bundle === undefined) throw new Error(`${OUR_ENTRY} is missing: run make build`);
  if (tsc !== undefined && tsc.mtimeMs > bundle.mtimeMs) throw new Error(`${OUR_ENTRY} is older than tsc's last build: run make build`);
  entryChecked = true;
}
