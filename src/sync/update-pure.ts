/**
 * csync_check_pure() as the update code uses it: does a directory part of a
 * name (not its first component) fail lstat() or resolve to a symlink? Such a
 * file counts as gone (its removal is pushed).
 *
 * csync2 keeps a one-entry cache of the last directory part it checked (and
 * prints its state at -vvv as ` check: <name> <len>, <cached> <len>, <same>.`);
 * the cache decides which parents are lstat()ed again, so it is kept here, per
 * process, exactly as csync2 keeps it.
 */
import { lstatSync, type Stats } from 'node:fs';
import type { Config } from '../config/model.js';
import { prefixSubst } from '../config/prefix.js';
import { S_IFLNK, fileType } from '../fs/checktxt.js';
import { fsPath, type BStr } from '../util/bytes.js';

interface PureCache {
  /** Directory part including its trailing slash, or null before the first check. */
  path: BStr | null;
  len: number;
  hasSymlink: boolean;
}

const cache: PureCache = { path: null, len: 0, hasSymlink: false };

export interface DebugSink {
  debug(lv: number, line: BStr): void;
}

/** True when a directory part of `filename` (prefix-encoded) is missing or a symlink. */
export function checkPure(cfg: Config, filename: BStr, out: DebugSink): boolean {
  let dirLen = 0;
  for (let i = 0; i < filename.length; i++) if (filename.charCodeAt(i) === 0x2f) dirLen = i + 1;
  if (dirLen <= 1) return false;

  const cached = cache.path ?? '';
  let i = 0;
  while (i < dirLen && i < cache.len && filename.charCodeAt(i) === cached.charCodeAt(i)) i++;
  for (--i; i >= 0 && cached.charCodeAt(i) !== 0x2f; --i);
  const sameLen = i + 1;

  out.debug(3, ` check: ${filename} ${dirLen}, ${cache.path ?? '(null)'} ${cache.len}, ${sameLen}.`);

  if (dirLen === sameLen && sameLen === cache.len) return cache.hasSymlink;

  let dir = filename.slice(0, dirLen);
  let hasSymlink = false;
  i = dirLen - 1;
  while (i) {
    while (i && dir.charCodeAt(i) !== 0x2f) --i;
    if (i <= 1) break;
    if (i + 1 === sameLen) {
      if (sameLen === cache.len) {
        hasSymlink = cache.hasSymlink;
        break;
      } else if (!cache.hasSymlink) {
        break; // a prefix of a directory already known to be pure
      }
    }
    dir = dir.slice(0, i);
    if (!isRealDir(prefixSubst(cfg, dir))) {
      hasSymlink = true;
      break;
    }
  }
  cache.path = filename.slice(0, dirLen);
  cache.len = dirLen;
  cache.hasSymlink = hasSymlink;
  return hasSymlink;
}

/** lstat() works and the entry is not a symlink. */
function isRealDir(path: BStr): boolean {
  try {
    const st = lstatSync(fsPath(path), { throwIfNoEntry: false });
    return st !== undefined && fileType(st.mode) !== S_IFLNK;
  } catch {
    return false;
  }
}

/** lstat_strict(prefixsubst(name)) succeeded: the entry exists (of any type). */
export function lstatName(cfg: Config, name: BStr): Stats | null {
  const real = prefixSubst(cfg, name);
  try {
    return lstatSync(fsPath(real), { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}
