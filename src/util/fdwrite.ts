/**
 * Synchronous writes of a whole buffer to a descriptor. A terminal or pipe left
 * non-blocking by another process answers EAGAIN when full: that is retried, as
 * csync2's stdio would block. Any other error is thrown for the caller to judge
 * (most callers drop it: a closed stdout or stderr must not end a run).
 */
import { writeSync } from 'node:fs';

export function writeFully(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    let n: number;
    try {
      n = writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw err;
    }
    if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    off += n;
  }
}

/** writeFully(), errors dropped; false when the write failed. */
export function writeFullyOrDrop(fd: number, buf: Uint8Array): boolean {
  try {
    writeFully(fd, buf);
    return true;
  } catch {
    return false;
  }
}
