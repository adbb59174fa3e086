/**
 * The delta of a file changed in place, made from two signatures instead of a
 * scan: the local file's and the peer's, of files of one size with the same
 * parameters. A block whose sums agree in both is the same block (the
 * assumption every rsync delta rests on) and becomes a COPY from its own
 * offset; the others go as literals read from the file. Only the blocks that
 * differ are read, and nothing is hashed: for a big file changed in a few
 * places the delta costs next to nothing, where a scan reads and hashes it all.
 *
 * A valid delta for any patcher, but not librsync's own bytes (a changed block
 * that happens to match another basis block stays a literal here).
 */
import { fstatSync, readSync } from 'node:fs';
import { DeltaWriter } from './emit.js';

/** Literal bytes are read (and emitted) in pieces of this size. */
const READ_PIECE = 1 << 20;
/** Beyond this share of differing bytes the data has likely moved: a scan finds it, this would not. */
const MAX_DIFFERING_SHARE = 1 / 8;

/** Which blocks of the file differ from the peer's. */
export interface InPlacePlan {
  blockLen: number;
  fileSize: number;
  /** Per block: 1 = differs. */
  differs: Uint8Array;
}

/**
 * The plan, or null when this way does not apply: the signatures differ in
 * parameters or length, are not of a file of `fileSize` bytes, or differ in
 * more than an eighth of the file (an insertion shifts everything after it).
 */
export function planInPlace(mine: Buffer, theirs: Buffer, fileSize: number): InPlacePlan | null {
  if (mine.length !== theirs.length || mine.length < 12 || mine.compare(theirs, 0, 12, 0, 12) !== 0) return null;
  const blockLen = mine.readUInt32BE(4);
  const strongLen = mine.readUInt32BE(8);
  if (blockLen < 1) return null;
  const entry = 4 + strongLen;
  const count = Math.ceil(fileSize / blockLen);
  if (mine.length !== 12 + count * entry) return null;
  const differs = new Uint8Array(count);
  let differing = 0;
  for (let i = 0, at = 12; i < count; i++, at += entry) {
    if (mine.compare(theirs, at, at + entry, at, at + entry) !== 0) {
      differs[i] = 1;
      differing += Math.min(blockLen, fileSize - i * blockLen);
    }
  }
  if (differing > fileSize * MAX_DIFFERING_SHARE) return null;
  return { blockLen, fileSize, differs };
}

/**
 * The delta by `plan` of the open file `fd` (positional reads), in pieces. Throws
 * if the file is no longer of the planned size (the caller then scans).
 */
export function* inPlaceDelta(fd: number, plan: InPlacePlan): Generator<Buffer> {
  const { blockLen, fileSize, differs } = plan;
  if (fstatSync(fd).size !== fileSize) throw new Error('the file changed size since its signature');
  const writer = new DeltaWriter();
  const buf = Buffer.allocUnsafe(Math.min(READ_PIECE, Math.max(fileSize, 1)));
  for (let i = 0; i < differs.length;) {
    const kind = differs[i];
    let j = i + 1;
    while (j < differs.length && differs[j] === kind) j++;
    const start = i * blockLen, end = Math.min(j * blockLen, fileSize);
    if (kind === 0) {
      writer.copy(start, end - start);
    } else {
      for (let off = start; off < end;) {
        const want = Math.min(buf.length, end - off);
        let got = 0;
        while (got < want) {
          const n = readSync(fd, buf, got, want - got, off + got);
          if (n <= 0) throw new Error('the file ended early');
          got += n;
        }
        writer.literal(buf, 0, got);
        off += got;
        yield* writer.take();
      }
    }
    i = j;
  }
  writer.end();
  yield* writer.take(true);
}
