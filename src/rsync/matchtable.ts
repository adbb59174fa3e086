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
 * In front of the table sits a small Bloom filter (two bits per entry out of 16
 * per entry, indexed by two multiplies of the raw weak sum): the scanner asks it
 * once per byte of unmatched data, and it must reject nearly every window
 * without touching the table, whose probes miss the cache. The two raw sums
 * whose keys nozero() merges both get their bits.
 */
import type { Signature } from './sigload.js';
import { strongSum } from './strong.js';
import { mix32 } from './weaksum.js';

/** Filter index multipliers: bit i = Math.imul(weak, FILTER_MULT_i) >>> filterShift. */
export const FILTER_MULT_1 = 0x9e3779b1 | 0;
export const FILTER_MULT_2 = 0x85ebca77 | 0;
const FILTER_BITS_PER_ENTRY = 16;

export class MatchTable {
  /** Bloom filter over raw weak sums (see FILTER_MULT_1/2). */
  readonly filter: Int32Array;
  readonly filterShift: number;
  private readonly mask: number;
  /** Open addressing, interleaved: [2b] = key, [2b + 1] = block index + 1 (0 = empty). */
  private readonly entries: Int32Array;
  private readonly window = new Uint8Array(32);
  private readonly sig: Signature;
  /** Strong sums computed by lookups (for statistics and tests). */
  strongCalcs = 0;

  constructor(sig: Signature) {
    this.sig = sig;
    const size = pow2AtLeast(Math.max(16, sig.count * 2));
    this.mask = size - 1;
    this.entries = new Int32Array(2 * size);
    const filterBits = pow2AtLeast(Math.max(1024, sig.count * FILTER_BITS_PER_ENTRY));
    this.filter = new Int32Array(filterBits >>> 5);
    this.filterShift = 32 - Math.log2(filterBits);
    const rollsum = sig.weak === 'rollsum';
    for (let i = 0; i < sig.count; i++) {
      const key = entryKey(sig.weakSums[i], rollsum);
      if (this.findStored(key, i) < 0) this.add(key, i, sig.weakSums[i]);
    }
  }

  /** False when no entry can have this raw weak sum (the scanner inlines this test). */
  mayContain(weak: number): boolean {
    const shift = this.filterShift;
    const b1 = Math.imul(weak, FILTER_MULT_1) >>> shift, b2 = Math.imul(weak, FILTER_MULT_2) >>> shift;
    return (this.filter[b1 >>> 5] & (1 << (b1 & 31))) !== 0 && (this.filter[b2 >>> 5] & (1 << (b2 & 31))) !== 0;
  }

  /**
   * The block matching the window src[off, off + len) whose weak key is `key`, or -1.
   * The window's strong hash is computed only if some entry has this key.
   */
  find(key: number, src: Uint8Array, off: number, len: number): number {
    const { entries, mask } = this;
    for (let b = key & mask; entries[2 * b + 1] !== 0; b = (b + 1) & mask) {
      if (entries[2 * b] === key) {
        strongSum(this.sig.hash, src, off, len, this.window, 0);
        this.strongCalcs++;
        return this.findStrong(key, this.window, 0);
      }
    }
    return -1;
  }

  /** find() for a window whose full strong hash is already known (at strong[off..]). */
  findStrong(key: number, strong: Uint8Array, off: number): number {
    const { entries, mask, sig } = this;
    const strongLen = sig.strongLen;
    for (let b = key & mask; entries[2 * b + 1] !== 0; b = (b + 1) & mask) {
      if (entries[2 * b] !== key) continue;
      const block = entries[2 * b + 1] - 1;
      const stored = block * sig.strongStride;
      let same = true;
      for (let k = 0; k < strongLen; k++) {
        if (strong[off + k] !== sig.strongSums[stored + k]) { same = false; break; }
      }
      if (same) return block;
    }
    return -1;
  }

  /** An earlier block with the same key and strong sum as block i, or -1. */
  private findStored(key: number, i: number): number {
    const { entries, mask, sig } = this;
    const strongLen = sig.strongLen;
    for (let b = key & mask; entries[2 * b + 1] !== 0; b = (b + 1) & mask) {
      if (entries[2 * b] !== key) continue;
      const block = entries[2 * b + 1] - 1;
      const a = block * sig.strongStride, c = i * sig.strongStride;
      let same = true;
      for (let k = 0; k < strongLen; k++) {
        if (sig.strongSums[a + k] !== sig.strongSums[c + k]) { same = false; break; }
      }
      if (same) return block;
    }
    return -1;
  }

  private add(key: number, i: number, weak: number): void {
    let b = key & this.mask;
    while (this.entries[2 * b + 1] !== 0) b = (b + 1) & this.mask;
    this.entries[2 * b] = key;
    this.entries[2 * b + 1] = i + 1;
    if (key === -1) {
      // nozero() gives two raw sums this key: both must pass the filter.
      this.setFilter(0);
      this.setFilter(this.sig.weak === 'rollsum' ? MIX32_OF_MINUS_ONE : -1);
    } else {
      this.setFilter(weak);
    }
  }

  private setFilter(weak: number): void {
    for (const mult of [FILTER_MULT_1, FILTER_MULT_2]) {
      const bit = Math.imul(weak, mult) >>> this.filterShift;
      this.filter[bit >>> 5] |= 1 << (bit & 31);
    }
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

/** The multiplicative inverse of an odd number mod 2^32 (Newton's iteration). */
function inverse32(a: number): number {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x;
}

/** mix32 undone: the raw rollsum whose mix32 is h. */
function unmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, inverse32(0xc2b2ae35 | 0));
  h ^= (h >>> 13) ^ (h >>> 26);
  h = Math.imul(h, inverse32(0x85ebca6b | 0));
  h ^= h >>> 16;
  return h | 0;
}

/** The raw rollsum that mix32 maps to 0xffffffff (its key equals that of a raw 0). */
export const MIX32_OF_MINUS_ONE = unmix32(-1);
