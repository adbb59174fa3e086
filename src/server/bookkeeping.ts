/**
 * The daemon's database side of a command (protocol.md §5.1): after a change
 * the client's dirty row goes, and the file row is rewritten from what is on
 * disk now (or deleted when the file is gone or hidden behind a symlink).
 */
import { lstatSync, type Stats } from 'node:fs';
import { prefixSubst } from '../config/prefix.js';
import type { Config } from '../config/model.js';
import { genChecktxt } from '../fs/checktxt.js';
import type { RunContext } from '../sync/context.js';
import { fsPath, type BStr } from '../util/bytes.js';
import { CleanDirMemo, dirStatGeneration, lstatDir } from '../fs/dirstat.js';

/** lstat that answers null for any failure (csync2's lstat_strict() != 0). */
export function lstatOrNull(real: BStr): Stats | null {
  try {
    return lstatSync(fsPath(real), { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/** The same file, unchanged (inode, size, modification and change times; a chmod or chown changes the last). */
export function sameVersion(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/**
 * csync2's check_pure(): is one of the name's directories (from the prefix
 * directory, or from the first component of a plain path) a symlink or
 * missing? Such files count as not existing.
 */
export function hasImpureDirectory(cfg: Config, name: BStr): boolean {
  if (pureDirs.passed(cfg, name)) return false;
  const generation = dirStatGeneration();
  for (let i = name.lastIndexOf('/'); i > 1; i = name.lastIndexOf('/', i - 1)) {
    const st = lstatDir(prefixSubst(cfg, name.slice(0, i)));
    if (st === null || st.isSymbolicLink()) return true;
  }
  pureDirs.remember(cfg, name, generation);
  return false;
}

const pureDirs = new CleanDirMemo<Config>();

/** csync_file_update(): dirty row of the client gone, file row from the disk (`known`: the file's stat, just taken). */
export function fileUpdated(ctx: RunContext, name: BStr, peer: BStr, known: Stats | null = null): void {
  ctx.store.deleteDirty(name, peer);
  const st = known ?? lstatOrNull(prefixSubst(ctx.cfg, name));
  if (st === null || hasImpureDirectory(ctx.cfg, name)) {
    ctx.store.deleteFile(name);
  } else {
    ctx.store.putFile(name, genChecktxt(st, name, ctx.cfg, false));
  }
}
