/**
 * Confinement of file commands (beyond csync2): a peer may only act on paths
 * inside the trees its groups share. csync2's permission check already needs
 * a group whose patterns contain the name; on top of that a name is refused,
 * before anything is touched, when
 * - its raw argument decodes to a NUL byte (csync2 would cut the name there),
 * - it has a `..` component, or an empty or `.` one (`//`, `/./`, a trailing
 *   `/`: another spelling of a name, which could slip past exclude patterns),
 * - it uses a prefix this host does not define (csync2 dies of that),
 * - it does not name an absolute path on this host,
 * - (for commands that touch the file) one of its existing directories is a
 *   symlink, or (for SETMOD, SETIME, TYPE) the file itself is one, so nothing
 *   is written or read through a link that may lead out of the tree.
 * The directories looked at are those of the name as csync2's check_pure()
 * sees them: below and including a prefix's directory, or every directory of
 * a plain absolute name.
 */
import { lstatSync } from 'node:fs';
import type { Config } from '../config/model.js';
import { prefixSubst } from '../config/prefix.js';
import { urlDecode } from '../protocol/urlencode.js';
import { FatalError } from '../util/errors.js';
import { fsPath, type BStr } from '../util/bytes.js';
import { CleanDirMemo, dirStatGeneration, lstatDir } from '../fs/dirstat.js';

export type Resolved = { ok: true; real: BStr } | { ok: false; why: string };

/** Does url-decoding `raw` produce a NUL byte anywhere (where csync2's C string would end)? */
export function decodesToNul(raw: BStr): boolean {
  for (let i = raw.indexOf('%'); i >= 0 && i + 2 < raw.length; i = raw.indexOf('%', i + 1)) {
    if (urlDecode(raw.slice(i, i + 3)) === '') return true;
    i += 2;
  }
  return false;
}

/** The real path of a command's file name, or why the name is refused. */
export function resolveName(cfg: Config, name: BStr, raw: BStr): Resolved {
  if (decodesToNul(raw)) return { ok: false, why: 'the name contains a NUL byte' };
  if (name === '') return { ok: false, why: 'the name is empty' };
  const parts = name.split('/');
  if (parts.includes('..')) return { ok: false, why: "the name has a '..' component" };
  // `%data%//x`, `%data%/./x` or `%data%/x/` name the same file as `%data%/x` but slip past
  // patterns such as `exclude %data%/x`; csync2 clients only ever send canonical names.
  if (name !== '/' && parts.slice(1).some((p) => p === '' || p === '.')) return { ok: false, why: "the name has an empty or '.' component" };
  let real: BStr;
  try {
    real = prefixSubst(cfg, name);
  } catch (err) {
    if (err instanceof FatalError) return { ok: false, why: err.message };
    throw err;
  }
  if (!real.startsWith('/')) return { ok: false, why: 'the name is not an absolute path' };
  return { ok: true, real };
}

/**
 * The first existing directory of `name` (csync2 spelling) that is a symlink,
 * or null. Missing directories are no escape; the command fails on its own.
 */
export function symlinkedDirectory(cfg: Config, name: BStr): BStr | null {
  if (linkFreeDirs.passed(cfg, name)) return null;
  const generation = dirStatGeneration();
  for (let i = name.indexOf('/', 1); i > 0; i = name.indexOf('/', i + 1)) {
    const dir = name.slice(0, i);
    let real: BStr;
    try {
      real = prefixSubst(cfg, dir);
    } catch {
      return dir;
    }
    if (lstatDir(real)?.isSymbolicLink()) return real;
  }
  linkFreeDirs.remember(cfg, name, generation);
  return null;
}

const linkFreeDirs = new CleanDirMemo<Config>();

/** Is the file itself a symlink? */
export function isSymlink(real: BStr): boolean {
  return lstatOrNull(real)?.isSymbolicLink() ?? false;
}

function lstatOrNull(real: BStr): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(fsPath(real), { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}
