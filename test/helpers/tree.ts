/**
 * Comparable descriptions of a directory tree, to check that two hosts hold the same data.
 *
 * Paths are byte strings (latin1 BStr, like the rest of the project) relative to the tree root, joined
 * with '/'; the root itself is ''. Entries are sorted by byte order. `diffTrees` reports readable
 * differences and by default ignores what csync2 does not replicate (directory sizes, directory and symlink mtimes).
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { fromBuf, toBuf } from '../../src/util/bytes.js';

export type EntryType = 'reg' | 'dir' | 'lnk' | 'fifo' | 'chr' | 'blk' | 'sock';

export interface TreeEntry {
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (st_mode & 07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds, as csync2 compares them. */
  mtime: number;
  /** sha256 of the content (regular files). */
  hash?: string;
  /** Link target as bytes (symlinks). */
  target?: string;
  /** Device number (character and block devices). */
  rdev?: number;
}

export type TreeSnapshot = TreeEntry[];

export interface SnapshotOptions {
  /** Leave out an entry (and, for a directory, everything below it). */
  exclude?: (path: string) => boolean;
}

function typeOf(mode: number): EntryType {
  switch (mode & 0o170000) {
    case 0o100000: return 'reg';
    case 0o040000: return 'dir';
    case 0o120000: return 'lnk';
    case 0o010000: return 'fifo';
    case 0o020000: return 'chr';
    case 0o060000: return 'blk';
    default: return 'sock';
  }
}

export async function treeSnapshot(root: string, opts: SnapshotOptions = {}): Promise<TreeSnapshot> {
  const entries: TreeEntry[] = [];
  const rootBytes = toBuf(root);
  const visit = async (rel: string): Promise<void> => {
    if (rel !== '' && opts.exclude?.(rel)) return;
    const abs = rel === '' ? rootBytes : Buffer.concat([rootBytes, Buffer.from('/'), toBuf(rel)]);
    const st = await lstat(abs);
    const type = typeOf(st.mode);
    const entry: TreeEntry = {
      path: rel, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    if (type === 'reg') entry.hash = createHash('sha256').update(await readFile(abs)).digest('hex');
    if (type === 'lnk') entry.target = fromBuf(await readlink(abs, { encoding: 'buffer' }));
    if (type === 'chr' || type === 'blk') entry.rdev = st.rdev;
    entries.push(entry);
    if (type === 'dir') {
      const names = (await readdir(abs, { encoding: 'buffer' })).map(fromBuf);
      for (const name of names) await visit(rel === '' ? name : `${rel}/${name}`);
    }
  };
  await visit('');
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export type CompareField = 'type' | 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'hash' | 'target' | 'rdev';

export interface DiffOptions {
  /** Fields not compared at all. */
  ignore?: CompareField[];
  /** Compare directory mtimes too (csync2 does not replicate them; default false). */
  dirMtime?: boolean;
  /** Compare symlink mtimes and sizes too (default false). */
  linkTimes?: boolean;
  /** Compare the root entry '' (its mode and owner are replicated like any directory; default true). */
  root?: boolean;
}

const FIELDS: CompareField[] = ['type', 'mode', 'uid', 'gid', 'size', 'mtime', 'hash', 'target', 'rdev'];

/** Human-readable differences between two snapshots; [] means equal. */
export function diffTrees(a: TreeSnapshot, b: TreeSnapshot, opts: DiffOptions = {}): string[] {
  const ignore = new Set(opts.ignore ?? []);
  const byPath = (s: TreeSnapshot): Map<string, TreeEntry> =>
    new Map(s.filter((e) => opts.root !== false || e.path !== '').map((e) => [e.path, e]));
  const left = byPath(a);
  const right = byPath(b);
  const diffs: string[] = [];
  const show = (p: string): string => JSON.stringify(p === '' ? '.' : p);
  for (const [path, l] of left) {
    const r = right.get(path);
    if (!r) {
      diffs.push(`${show(path)}: only in first (${l.type})`);
      continue;
    }
    for (const field of FIELDS) {
      if (ignore.has(field)) continue;
      if (field === 'mtime' && l.type === 'dir' && r.type === 'dir' && !opts.dirMtime) continue;
      // A directory's size is its file system's bookkeeping (ext4 grows it by blocks as entries
      // come and never shrinks it): nothing csync2 replicates or could.
      if (field === 'size' && l.type === 'dir' && r.type === 'dir') continue;
      if ((field === 'mtime' || field === 'size') && l.type === 'lnk' && r.type === 'lnk' && !opts.linkTimes) continue;
      const lv = l[field];
      const rv = r[field];
      if (lv !== rv) {
        const fmt = (v: unknown): string => (field === 'mode' && typeof v === 'number' ? v.toString(8) : JSON.stringify(v));
        diffs.push(`${show(path)}: ${field} ${fmt(lv)} != ${fmt(rv)}`);
      }
    }
  }
  for (const [path, r] of right) {
    if (!left.has(path)) diffs.push(`${show(path)}: only in second (${r.type})`);
  }
  return diffs;
}
