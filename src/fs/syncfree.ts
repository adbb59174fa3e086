/**
 * Whether fsync() can make a difference in a directory. On tmpfs and ramfs it
 * cannot (the kernel's fsync there does nothing: the data lives only in memory),
 * so a received file there skips its fdatasync and the directory fsync after
 * the rename: each one was a thread-pool round trip and a wake-up for nothing
 * (a first push of 10k small files into /dev/shm: futex calls 35k -> 2.7k).
 *
 * Also whether a file system's syncfs() can stand for the fdatasync() of each file
 * written there (flushgroup.ts).
 *
 * Asked once per received file: the answer is kept per directory for a second
 * (a file system mounted over a directory later is seen within that second).
 */
import { statfsSync } from 'node:fs';
import { fsPath, type BStr } from '../util/bytes.js';

/** statfs(2) f_type of the file systems whose fsync is a no-op. */
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

const KEEP_MS = 1000;
/** More directories than this at once: start over (a push into a huge tree). */
const MAX_ENTRIES = 4096;

const known = new Map<BStr, { type: number | null; at: number }>();

/** statfs(2) f_type of local disk file systems whose syncfs() writes back every file (flushgroup.ts). */
const SYNCFS_TYPES = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
]);

/** The f_type of the file system holding `dir` (null: cannot be told), remembered for KEEP_MS. */
function fsTypeOf(dir: BStr): number | null {
  const now = Date.now();
  const k = known.get(dir);
  if (k !== undefined && now - k.at < KEEP_MS) return k.type;
  let type: number | null;
  try {
    type = statfsSync(fsPath(dir)).type;
  } catch {
    type = null;
  }
  if (known.size >= MAX_ENTRIES) known.clear();
  known.set(dir, { type, at: now });
  return type;
}

/** True when fsync() of anything in directory `dir` is known to do nothing; false when it may matter or cannot be told. */
export function fsyncIsNoop(dir: BStr): boolean {
  const type = fsTypeOf(dir);
  return type === TMPFS_MAGIC || type === RAMFS_MAGIC;
}

/** True when `dir` is on a local disk file system whose syncfs() makes every file written there durable. */
export function syncfsReliable(dir: BStr): boolean {
  const type = fsTypeOf(dir);
  return type !== null && SYNCFS_TYPES.has(type);
}
