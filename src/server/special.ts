/**
 * Device nodes and FIFOs for MKCHR / MKBLK / MKFIFO. Node has no mknod(2), so
 * coreutils' mknod(1) does it (mode 0700 like csync2). Names that are not
 * ASCII cannot travel as argv text: the node is then made under an ASCII name
 * in the same directory, reached through our own open directory descriptor in
 * /proc, and renamed into place.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants as C, openSync, renameSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isAscii, fsPath, toBuf, type BStr } from '../util/bytes.js';

export type NodeKind = 'c' | 'b' | 'p';

/** Thrown with `code` = the errno name when mknod fails, so strerror() gives csync2's text. */
class MknodError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

/** glibc's gnu_dev_major / gnu_dev_minor for a dev_t. */
export function devMajorMinor(dev: bigint): [bigint, bigint] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [major, minor];
}

/** errno names for the texts mknod(1) prints after the path. */
const TEXT_TO_CODE: Record<string, string> = {
  'File exists': 'EEXIST',
  'No such file or directory': 'ENOENT',
  'Permission denied': 'EACCES',
  'Operation not permitted': 'EPERM',
  'Not a directory': 'ENOTDIR',
  'No space left on device': 'ENOSPC',
  'Read-only file system': 'EROFS',
  'File name too long': 'ENAMETOOLONG',
  'Too many levels of symbolic links': 'ELOOP',
  'Invalid argument': 'EINVAL',
};

function runMknod(path: string, kind: NodeKind, dev: bigint): Promise<void> {
  const args = ['-m', '0700', path, kind];
  if (kind !== 'p') {
    const [major, minor] = devMajorMinor(BigInt.asUintN(64, dev));
    args.push(String(major), String(minor));
  }
  return new Promise((resolve, reject) => {
    execFile('mknod', args, { encoding: 'latin1' }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const text = String(stderr).trim().split(': ').pop() ?? '';
      reject(new MknodError(text || err.message, TEXT_TO_CODE[text] ?? 'EIO'));
    });
  });
}

/** mknod(real, 0700 | type, dev). Rejects with an errno-coded error. */
export async function makeNode(real: BStr, kind: NodeKind, dev: bigint): Promise<void> {
  if (isAscii(real)) return runMknod(real, kind, dev);
  const slash = real.lastIndexOf('/');
  const dirFd = openSync(fsPath(slash > 0 ? real.slice(0, slash) : '/'), C.O_RDONLY | C.O_DIRECTORY);
  const tmpName = `.csync2-node-${randomBytes(6).toString('hex')}`;
  try {
    await runMknod(`/proc/${process.pid}/fd/${dirFd}/${tmpName}`, kind, dev);
    const tmpPath = Buffer.concat([toBuf(real.slice(0, slash + 1)), Buffer.from(tmpName)]);
    try {
      renameSync(tmpPath, fsPath(real));
    } catch (err) {
      try { unlinkSync(tmpPath); } catch { /* already gone */ }
      throw err;
    }
  } finally {
    closeSync(dirFd);
  }
}
