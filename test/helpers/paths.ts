/** Where the programs under test live. This file runs compiled as dist/test/helpers/paths.js. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: dist/test/helpers/ -> three levels up. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The real csync2 2.0 (Debian package). */
export const REAL_CSYNC2 = '/usr/sbin/csync2';
/** Our launcher (bin/csync2 -> dist/src/cli/main.js). */
export const OUR_CSYNC2 = resolve(REPO_ROOT, 'bin', 'csync2');
export const SQLITE3 = '/usr/bin/sqlite3';

export type Impl = 'ours' | 'real';

/** The argv prefix that starts one implementation (ours runs under the node running the tests). */
export function implCommand(impl: Impl): string[] {
  return impl === 'real' ? [REAL_CSYNC2] : [process.execPath, OUR_CSYNC2];
}
