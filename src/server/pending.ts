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

export class PendingFiles {
  private readonly byReal = new Map<BStr, PendingFile>();
  /** How many pending files lie below each directory: a command's related() walks up its own path, not every pending file. */
  private readonly below = new Map<BStr, number>();

  get size(): number {
    return this.byReal.size;
  }

  get(real: BStr): PendingFile | undefined {
    return this.byReal.get(real);
  }

  add(p: PendingFile): void {
    const old = this.byReal.get(p.real);
    if (old !== undefined) this.delete(old);
    this.byReal.set(p.real, p);
    this.countBelow(p.real, 1);
  }

  delete(p: PendingFile): void {
    if (this.byReal.get(p.real) !== p) return;
    this.byReal.delete(p.real);
    this.countBelow(p.real, -1);
  }

  /** Pending files at `real`, below it or above it (in arrival order). */
  related(real: BStr): PendingFile[] {
    if (this.byReal.size === 0) return [];
    if ((this.below.get(real) ?? 0) > 0) {
      const out: PendingFile[] = [];
      for (const p of this.byReal.values()) if (isRelatedPath(p.real, real)) out.push(p);
      return out;
    }
    // Only the path itself and its directories can be pending: a file is pending, so at most one of them is.
    const at = this.byReal.get(real);
    if (at !== undefined) return [at];
    for (let i = real.lastIndexOf('/'); i >= 0; i = i === 0 ? -1 : real.lastIndexOf('/', i - 1)) {
      const above = this.byReal.get(i === 0 ? '/' : real.slice(0, i));
      if (above !== undefined) return [above];
    }
    return [];
  }

  /** Every pending file, oldest first. */
  all(): PendingFile[] {
    return [...this.byReal.values()];
  }

  oldest(): PendingFile | undefined {
    return this.byReal.values().next().value;
  }

  private countBelow(real: BStr, delta: 1 | -1): void {
    for (let i = real.lastIndexOf('/'); i >= 0; i = i === 0 ? -1 : real.lastIndexOf('/', i - 1)) {
      const dir = i === 0 ? '/' : real.slice(0, i);
      const n = (this.below.get(dir) ?? 0) + delta;
      if (n === 0) this.below.delete(dir);
      else this.below.set(dir, n);
    }
  }
}
