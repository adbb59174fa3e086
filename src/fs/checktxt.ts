/**
 * checktxt v1: the one-line description of a file csync2 stores and compares
 * (database.md §4). Field order and formats are csync2's exactly.
 */
import { readlinkSync, type Stats } from 'node:fs';
import { urlEncode } from '../protocol/urlencode.js';
import { toBuf, fromBuf, type BStr } from '../util/bytes.js';

export interface IgnoreFlags {
  ignoreUid: boolean;
  ignoreGid: boolean;
  ignoreMod: boolean;
}

const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

export function fileType(mode: number): number {
  return mode & S_IFMT;
}

/** The subset of fs.Stats checktxt reads. */
export type StatLike = Pick<Stats, 'mode' | 'uid' | 'gid' | 'size' | 'rdev' | 'mtimeMs'>;

/** st_mtime in whole seconds, as C's time_t. */
export function mtimeSeconds(st: Pick<Stats, 'mtimeMs'>): number {
  return Math.floor(st.mtimeMs / 1000);
}

/**
 * `name` is the path as csync2 passes it to readlink(): the real path for plain
 * names, the un-substituted `%prefix%/...` for prefixed ones (so their link
 * target comes out empty, as in csync2).
 */
export function genChecktxt(st: StatLike, name: BStr, ign: IgnoreFlags, ignoreMtime: boolean): BStr {
  const type = st.mode & S_IFMT;
  let out = 'v1';
  if (type !== S_IFLNK && type !== S_IFDIR) out += `:mtime=${ignoreMtime ? 0 : mtimeSeconds(st)}`;
  if (!ign.ignoreMod) out += `:mode=${st.mode}`;
  // csync2 prints the ids with %d: past 2^31 they come out negative.
  if (!ign.ignoreUid) out += `:uid=${st.uid | 0}`;
  if (!ign.ignoreGid) out += `:gid=${st.gid | 0}`;
  switch (type) {
    case S_IFREG: out += `:type=reg:size=${st.size}`; break;
    case S_IFDIR: out += ':type=dir'; break;
    case S_IFCHR: out += `:type=chr:dev=${st.rdev | 0}`; break;
    case S_IFBLK: out += `:type=blk:dev=${st.rdev | 0}`; break;
    case S_IFIFO: out += ':type=fifo'; break;
    case S_IFLNK: out += `:type=lnk:target=${urlEncode(readLinkTarget(name))}`; break;
    case S_IFSOCK: out += ':type=sock'; break;
  }
  return out;
}

/** readlink() of `name` as bytes, at most 4095 of them; '' when it fails. */
export function readLinkTarget(name: BStr): BStr {
  try {
    const t = fromBuf(readlinkSync(toBuf(name), { encoding: 'buffer' }));
    return t.length > 4095 ? t.slice(0, 4095) : t;
  } catch {
    return '';
  }
}
