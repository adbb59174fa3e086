/**
 * Received files not yet in place (beyond csync2, which renames at once and
 * never fsyncs). After a PATCH the new content sits in its temp file while its
 * fsync runs in the background; the client's SETOWN and SETMOD for that file go
 * to the temp file, and its SETIME (the client's last command for a file, after
 * which it clears its dirty row) puts it in place, after one dirty check of
 * the path (a local change since the PATCH is a conflict, as csync2's checks
 * of SETOWN and SETMOD would find). Any other command at, above or below such
 * a path first waits until it is in place, so every command still sees the
 * tree csync2's order of events would give; only a directory's SETOWN, and a
 * SETMOD that leaves it open to us, let the files below it stay pending
 * (nothing of them depends on its contents; Session.leavesContentsAlone).
 */
import type { Stats } from 'node:fs';
import type { PendingWrite } from '../fs/apply.js';
import type { BStr } from '../util/bytes.js';

/** More than this many received files waiting: the oldest goes in place. */
export const PENDING_MAX = 64;

export interface PendingFile {
  /** csync2 spelling (`%data%/x`). */
  name: BStr;
  /** The path on this host. */
  real: BStr;
  write: PendingWrite;
  /** lstat() of the path at the PATCH's dirty check (null: nothing there). */
  stat: Stats | null | undefined;
}

/** `path` lies below the directory `dir`. */
export function isBelow(path: BStr, dir: BStr): boolean {
  if (dir === '/') return path !== '/';
  return path.length > dir.length && path.startsWith(dir) && path.charCodeAt(dir.length) === 0x2f;
}

/** The same path, or one lies below the other. */
export function isRelatedPath(a: BStr, b: BStr): boolean {
  return a === b || isBelow(a, b) || isBelow(b, a);
}

/**
 * Received files by path, with how many lie below each directory: a command's related()
 * walks up its own path instead of over every file (a first push keeps dozens pending or
 * finishing, and every command asks).
 */
export class PathMap<V> {
  private readonly byReal = new Map<BStr, V>();
  private readonly below = new Map<BStr, number>();

  get size(): number {
    return this.byReal.size;
  }

  get(real: BStr): V | undefined {
    return this.byReal.get(real);
  }

  set(real: BStr, v: V): void {
    if (!this.byReal.has(real)) this.countBelow(real, 1);
    this.byReal.set(real, v);
  }

  /** Removes `real` when it maps to `v` (or to anything, without `v`). */
  delete(real: BStr, v?: V): void {
    if (!this.byReal.has(real) || (v !== undefined && this.byReal.get(real) !== v)) return;
    this.byReal.delete(real);
    this.countBelow(real, -1);
  }

  /** The values at `real`, below it or above it (in arrival order). */
  related(real: BStr): V[] {
    return this.relatedEntries(real).map(([, v]) => v);
  }

  /** The paths at `real`, below it or above it, with their values (in arrival order). */
  relatedEntries(real: BStr): [BStr, V][] {
    if (this.byReal.size === 0) return [];
    if ((this.below.get(real) ?? 0) > 0) return [...this.byReal].filter(([r]) => isRelatedPath(r, real));
    // Only the path itself and its directories are left: they are files, so at most one of them is here.
    for (let i = real.length; i >= 0; i = i === 0 ? -1 : real.lastIndexOf('/', i - 1)) {
      const path = i === real.length ? real : i === 0 ? '/' : real.slice(0, i);
      const v = this.byReal.get(path);
      if (v !== undefined) return [[path, v]];
    }
    return [];
  }

  values(): IterableIterator<V> {
    return this.byReal.values();
  }

  private countBelow(real: BStr, delta: 1 | -1): void {
    for (const dir of directoriesAbove(real)) {
      const n = (this.below.get(dir) ?? 0) + delta;
      if (n === 0) this.below.delete(dir);
      else this.below.set(dir, n);
    }
  }
}

/** The directories above a path's, by directory: the files of one directory arrive together. */
const ABOVE = new Map<BStr, readonly BStr[]>();
const ABOVE_MAX = 4096;

/** Every directory above `real`, nearest first. */
function directoriesAbove(real: BStr): readonly BStr[] {
  const i = real.lastIndexOf('/');
  if (i < 0 || real === '/') return [];
  const dir = i === 0 ? '/' : real.slice(0, i);
  let list = ABOVE.get(dir);
  if (list === undefined) {
    list = [dir, ...directoriesAbove(dir)];
    if (ABOVE.size >= ABOVE_MAX) ABOVE.clear();
    ABOVE.set(dir, list);
  }
  return list;
}

export class PendingFiles {
  private readonly files = new PathMap<PendingFile>();

  get size(): number {
    return this.files.size;
  }

  get(real: BStr): PendingFile | undefined {
    return this.files.get(real);
  }

  add(p: PendingFile): void {
    this.files.delete(p.real);
    this.files.set(p.real, p);
  }

  delete(p: PendingFile): void {
    this.files.delete(p.real, p);
  }

  /** Pending files at `real`, below it or above it (in arrival order). */
  related(real: BStr): PendingFile[] {
    return this.files.related(real);
  }

  /** Every pending file, oldest first. */
  all(): PendingFile[] {
    return [...this.files.values()];
  }

  oldest(): PendingFile | undefined {
    return this.files.values().next().value;
  }
}
