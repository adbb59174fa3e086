/**
 * Reading a signature (spec librsync-format.md §3) with librsync's checks, in
 * the same order, so a malformed one fails like rs_loadsig_file does: block
 * length < 1 and strong length outside 0..32 are corrupt, an unknown magic is a
 * bad magic, a strong length over the hash's size is a parameter error, strong
 * length 0 means the full hash. 1..3 stray bytes after the last entry are
 * ignored; a weak sum without its strong sum is a truncated signature.
 */
import { RsyncStreamError } from './errors.js';
import { MAX_STRONG_LEN, sigKind, type StrongHash, type WeakSum } from './format.js';

export interface Signature {
  readonly magic: number;
  readonly hash: StrongHash;
  readonly weak: WeakSum;
  readonly blockLen: number;
  /** Bytes kept of each block's strong hash (after "0 = full" is resolved). */
  readonly strongLen: number;
  /** Number of blocks. */
  readonly count: number;
  /** Block i's weak sum as stored (uint32 bits in an int32). */
  readonly weakSums: Int32Array;
  /**
   * Block i's strong sum prefix at strongSums[i * strongStride, + strongLen). A
   * parsed signature points into the caller's buffer (no copy of the ~1% of the
   * file a signature is), so that buffer must not be changed while this is used.
   */
  readonly strongSums: Uint8Array;
  readonly strongStride: number;
}

/** Parses a whole signature held in memory. Throws RsyncError naming the offset. */
export function parseSignature(sig: Uint8Array): Signature {
  const header = parseHeader(sig, sig.length);
  const entryLen = 4 + header.strongLen;
  const body = sig.length - 12;
  const count = Math.floor(body / entryLen);
  const rest = body - count * entryLen;
  if (rest >= 4) {
    throw new RsyncStreamError('input-ended', 'signature truncated inside a block sum', sig.length);
  }
  const weakSums = new Int32Array(count);
  for (let i = 0, p = 12; i < count; i++, p += entryLen) {
    weakSums[i] = (sig[p] << 24) | (sig[p + 1] << 16) | (sig[p + 2] << 8) | sig[p + 3];
  }
  return { ...header, count, weakSums, strongSums: sig.subarray(16), strongStride: entryLen };
}

type Header = Omit<Signature, 'count' | 'weakSums' | 'strongSums' | 'strongStride'>;

function parseHeader(sig: Uint8Array, total: number): Header {
  if (total < 12) throw new RsyncStreamError('input-ended', 'signature header truncated', total);
  const magic = readI32(sig, 0);
  const blockLen = readI32(sig, 4);
  if (blockLen < 1) throw new RsyncStreamError('corrupt', `signature block length ${blockLen} is bogus`, 4);
  let strongLen = readI32(sig, 8);
  if (strongLen < 0 || strongLen > 32) {
    throw new RsyncStreamError('corrupt', `signature strong sum length ${strongLen} is implausible`, 8);
  }
  const kind = sigKind(magic);
  if (!kind) {
    throw new RsyncStreamError('bad-magic', `bad signature magic 0x${(magic >>> 0).toString(16).padStart(8, '0')}`, 0);
  }
  const max = MAX_STRONG_LEN[kind.hash];
  if (strongLen === 0) strongLen = max;
  if (strongLen > max) {
    throw new RsyncStreamError('param', `strong sum length ${strongLen} is too long for ${kind.hash}`, 8);
  }
  return { magic: magic >>> 0, hash: kind.hash, weak: kind.weak, blockLen, strongLen };
}

function readI32(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
}

/**
 * Collects a signature arriving in pieces (e.g. from a socket) and parses it at
 * the end. The header is checked as soon as it is complete, so a stream that is
 * not a signature fails early.
 */
export class SignatureLoader {
  private readonly parts: Uint8Array[] = [];
  private length = 0;
  private headerChecked = false;

  push(chunk: Uint8Array): void {
    this.parts.push(new Uint8Array(chunk)); // a copy: the caller may reuse its buffer
    this.length += chunk.length;
    if (!this.headerChecked && this.length >= 12) {
      parseHeader(this.concat(), this.length);
      this.headerChecked = true;
    }
  }

  end(): Signature {
    return parseSignature(this.concat());
  }

  private concat(): Uint8Array {
    if (this.parts.length !== 1) {
      const all = Buffer.concat(this.parts, this.length);
      this.parts.length = 0;
      this.parts.push(all);
    }
    return this.parts[0] ?? new Uint8Array(0);
  }
}
