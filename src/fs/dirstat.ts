/**
 * lstat() of the directories above a file, remembered for a moment.
 *
 * Every daemon command looks at each directory of its path up to three times
 * (the symlink confinement, csync2's check_pure() in the local check and in the
 * row update), and a file's SETOWN, SETMOD and SETIME come in one burst: dozens
 * of identical lstat() calls per file. While the daemon enables this cache, the
 * answers are reused until the daemon changes a directory entry itself
 * (forgetDirStats(path) after MKDIR, DEL, MKLINK, ... of that path), and for at most
 * MAX_AGE_MS: a window like the race that already lies between any check and
 * the use of a path.
 *
 * Off by default: the client and local modes always ask the file system.
 */
import { lstatSync, type Stats } from 'node:fs';
import { fsPath, type BStr } from '../util/bytes.js';

const MAX_AGE_MS = 50;

let enabled = false;
let bornAt = 0;
const cache = new Map<BStr, Stats | null>();
/** Counts the times what is remembered was dropped (dirStatGeneration()). */
let generation = 0;

/** The daemon turns the cache on for its sessions. */
export function enableDirStatCache(on: boolean): void {
  enabled = on;
  cache.clear();
  generation++;
}

/** Drop everything once it is MAX_AGE_MS old. */
function expire(now: number): void {
  if (now - bornAt <= MAX_AGE_MS) return;
  cache.clear();
  bornAt = now;
  generation++;
}

/**
 * Changes whenever a remembered answer may no longer hold (age, forgetDirStats()); -1 while
 * the cache is off. What is derived from lstatDir() answers may be kept as long as it stays the same.
 */
export function dirStatGeneration(): number {
  if (!enabled) return -1;
  expire(Date.now());
  return generation;
}

/**
 * Forget what is remembered of `real` and below it: the daemon changed that
 * entry (created, replaced or removed it). The directories above it are the
 * same as before.
 */
export function forgetDirStats(real: BStr): void {
  if (cache.size === 0) return;
  const before = cache.size;
  cache.delete(real);
  const below = real.endsWith('/') ? real : real + '/';
  for (const k of cache.keys()) if (k.startsWith(below)) cache.delete(k);
  if (cache.size !== before) generation++;
}

function lstatOrNull(real: BStr): Stats | null {
  try {
    return lstatSync(fsPath(real), { throwIfNoEntry: false }) ?? null;
  } catch {
    return null; // ENOTDIR, EACCES, ELOOP...: csync2 treats any lstat failure alike
  }
}

/** lstat() of a directory on a file's path, null for any failure. */
export function lstatDir(real: BStr): Stats | null {
  if (!enabled) return lstatOrNull(real);
  expire(Date.now());
  let st = cache.get(real);
  if (st === undefined) {
    st = lstatOrNull(real);
    cache.set(real, st);
  }
  return st;
}

/**
 * A check of a name's directories (through lstatDir()) that found nothing wrong, kept for the
 * next name in the same directory while the answers it read stand (dirStatGeneration()): a
 * push sends a directory's files one after the other, and each walked the same directories.
 * `T` is what the check depends on besides the directory (the config).
 */
export class CleanDirMemo<T> {
  private key: T | null = null;
  private dir: BStr = '';
  private generation = -1;

  /** Did the check pass for the directory of `name` (everything before its last '/') under `key`? */
  passed(key: T, name: BStr): boolean {
    const slash = name.lastIndexOf('/');
    // remember() keeps only generations >= 0, and a cache turned off answers -1.
    return this.key === key && slash === this.dir.length && this.generation === dirStatGeneration() && name.startsWith(this.dir);
  }

  /** The check passed for the directory of `name`; `generation` is dirStatGeneration() from before it ran. */
  remember(key: T, name: BStr, generation: number): void {
    if (generation < 0) return; // the cache is off: nothing stands
    this.key = key;
    this.dir = name.slice(0, Math.max(0, name.lastIndexOf('/')));
    this.generation = generation;
  }
}
