/**
 * The lookup from a window's weak sum (+ strong sum, computed only on a weak hit)
 * to a signature block, with librsync's semantics (sumset.c, hashtable.h):
 *
 * - the key is the weak sum, passed through mix32 for rollsums, with 0 mapped to
 *   0xffffffff ("nozero"); two blocks are the same entry when key and strong
 *   prefix are equal, and only the earliest such block is kept, so a match
 *   always names the first identical block of the basis;
 * - a lookup matches an entry with an equal key whose strong prefix equals the
 *   window's.
 *
 * A one-bit-per-bucket filter, small enough to stay in cache, rejects almost
 * every miss before the table itself is touched: the scanner asks once per byte
 * of unmatched data.
 */
import type { Signature } from './sigload.js';
import { strongSum } from './strong.js';
import { mix32 } from './weaksum.js';

export class MatchTable {
  /** filter[key >>> filterShift] bit set when some entry has that key prefix. */
  readonly filter: Int32Array;
  readonly filterShift: number;
  private readonly mask: number;
  private readonly keys: Int32Array;
  /** Block index + 1 of the entry in each bucket; 0 = empty. */
  private readonly slots: Int32Array;
  private readonly window = new Uint8Array(32);
  private readonly sig: Signature;
  /** Strong sums computed by lookups (for statistics and tests). */
  strongCalcs = 0;

  constructor(sig: Signature) {
    this.sig = sig;
    const size = pow2AtLeast(Math.max(16, sig.count * 2));
    this.mask = size - 1;
    this.keys = new Int32Array(size);
    this.slots = new Int32Array(size);
    const filterBits = pow2AtLeast(Math.max(1024, sig.count * 16));
    this.filter = new Int32Array(filterBits >>> 5);
    this.filterShift = 32 - Math.log2(filterBits);
    const rollsum = sig.weak === 'rollsum';
    for (let i = 0; i < sig.count; i++) {
      const key = entryKey(sig.weakSums[i], rollsum);
      if (this.findStored(key, i) < 0) this.add(key, i);
    }
  }

  /**
   * The block matching the window src[off, off + len) whose weak key is `key`, or -1.
   * Callers check the filter first (`mayContain`).
   */
  find(key: number, src: Uint8Array, off: number, len: number): number {
    const { keys, slots, mask, sig, window } = this;
    const strongLen = sig.strongLen;
    let computed = false;
    for (let b = key & mask; slots[b] !== 0; b = (b + 1) & mask) {
      if (keys[b] !== key) continue;
      if (!computed) {
        strongSum(sig.hash, src, off, len, window, 0);
        this.strongCalcs++;
        computed = true;
      }
      const block = slots[b] - 1;
      const stored = block * strongLen;
      let same = true;
      for (let k = 0; k < strongLen; k++) {
        if (window[k] !== sig.strongSums[stored + k]) { same = false; break; }
      }
      if (same) return block;
    }
    return -1;
  }

  mayContain(key: number): boolean {
    const bit = key >>> this.filterShift;
    return (this.filter[bit >>> 5] & (1 << (bit & 31))) !== 0;
  }

  /** An earlier block with the same key and strong sum as block i, or -1. */
  private findStored(key: number, i: number): number {
    const { keys, slots, mask, sig } = this;
    const strongLen = sig.strongLen;
    for (let b = key & mask; slots[b] !== 0; b = (b + 1) & mask) {
      if (keys[b] !== key) continue;
      const block = slots[b] - 1;
      let same = true;
      for (let k = 0; k < strongLen; k++) {
        if (sig.strongSums[block * strongLen + k] !== sig.strongSums[i * strongLen + k]) { same = false; break; }
      }
      if (same) return block;
    }
    return -1;
  }

  private add(key: number, i: number): void {
    let b = key & this.mask;
    while (this.slots[b] !== 0) b = (b + 1) & this.mask;
    this.keys[b] = key;
    this.slots[b] = i + 1;
    const bit = key >>> this.filterShift;
    this.filter[bit >>> 5] |= 1 << (bit & 31);
  }
}

/** The table key of a weak sum: librsync's mix32 for rollsums, then 0 -> 0xffffffff. */
export function entryKey(weak: number, rollsum: boolean): number {
  const h = rollsum ? mix32(weak) : weak | 0;
  return h === 0 ? -1 : h;
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
