/**
 * Delta generation: a signature of the old file plus the new file, streamed,
 * gives the librsync delta that turns the old file into the new one.
 *
 * The matching follows librsync's delta.c step for step (spec librsync-format.md
 * §6), so the output is byte-identical to rdiff's:
 *  - while a full block plus one byte is available, look the block-long window
 *    up; a match is appended (merged into the pending COPY when it continues it)
 *    and the weak sum restarts after it; a miss rolls the window one byte;
 *  - at the end of input the window shrinks instead of rolling, so the short
 *    last basis block can match only the very end of the new file;
 *  - pending unmatched bytes go out as a LITERAL when a match starts, when they
 *    reach 32768 bytes, or at the end; a miss right after a match emits the COPY.
 *  - a signature without blocks gives a "slack" delta: one LITERAL per block_len
 *    bytes of input, as rs_delta_file reads them.
 *
 * Memory: the unscanned input plus at most 32 KiB of pending literal and one
 * block, never the whole file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { DeltaWriter } from './emit.js';
import { READ_CHUNK, readHandleChunks, writeAll, type DeltaSink } from './fileio.js';
import { MAX_LITERAL_RUN } from './format.js';
import { giveBuffer, takeBuffer } from '../util/bufpool.js';
import { FILTER_MULT_1, FILTER_MULT_2, MatchTable } from './matchtable.js';
import { md4RollsumPair, pairWeak } from './md4.js';
import { MD4_FAST_MAX, md4RollsumPairFast, pairWeakFast } from './md4wasm.js';
import type { Signature } from './sigload.js';
import type { DeltaStats } from './stats.js';
import {
  RABINKARP_ADJ, RABINKARP_INVM, RABINKARP_MULT, ROLLSUM_CHAR_OFFSET, mix32, rabinkarpBlock, rabinkarpPow, rollsumBlock,
} from './weaksum.js';

/** Slack literals longer than this are cut (librsync would use one block per literal). */
const MAX_SLACK_LITERAL = 4 << 20;
/** The input buffer starts at most this big... */
const MIN_BUFFER = 128 * 1024;
/** ...and grows (when chunks are large) to hold about this much unscanned input. */
const MAX_BUFFER = 4 * READ_CHUNK;
/** The buffer after end(): the grown one went back to the pool. */
const EMPTY = new Uint8Array(0);

export class DeltaEncoder {
  private readonly blockLen: number;
  private readonly rollsum: boolean;
  private readonly table: MatchTable | null;
  private readonly writer = new DeltaWriter();
  /** Input not yet emitted: [litStart, pos) pending literal, [pos, avail) unscanned. */
  private buf: Uint8Array;
  private avail = 0;
  private pos = 0;
  private litStart = 0;
  /** The pending COPY (copyLen 0 = none). */
  private copyPos = 0;
  private copyLen = 0;
  /** Weak sum of the window at pos: wcount bytes; rollsum s1/s2, or RabinKarp hash/mult. */
  private wcount = 0;
  private s1 = 0;
  private s2 = 0;
  private ended = false;
  /** MD4/rollsum signature: windows are hashed in fused pairs (see scan). */
  private readonly fused: boolean;
  /** Strong hashes of the last pair: this window's at 0, the next window's at 16. */
  private readonly pair = new Uint8Array(32);
  /** Buffer position of the window whose sums the last pair precomputed (-1 = none). */
  private nextPos = -1;
  private nextWeak = 0;
  private readonly multB: number;

  constructor(sig: Signature) {
    this.blockLen = sig.blockLen;
    this.rollsum = sig.weak === 'rollsum';
    this.fused = this.rollsum && sig.hash === 'md4';
    this.multB = rabinkarpPow(this.blockLen);
    this.table = sig.count > 0 ? new MatchTable(sig) : null;
    // Small to start with (csync2 sends many small files); grows with the input.
    this.buf = new Uint8Array(this.table ? Math.min(MIN_BUFFER, 2 * (this.blockLen + MAX_LITERAL_RUN + 1))
      : Math.min(this.blockLen, MAX_SLACK_LITERAL));
  }

  /** Commands emitted so far. */
  get stats(): DeltaStats {
    return this.writer.stats;
  }

  /** Strong sums computed so far (statistics). */
  get strongCalcs(): number {
    return this.table?.strongCalcs ?? 0;
  }

  /** Feeds input; returns the delta bytes ready so far (possibly none). */
  write(chunk: Uint8Array): Buffer[] {
    if (this.ended) throw new Error('DeltaEncoder: write after end');
    let off = 0;
    while (off < chunk.length) {
      if (this.avail === this.buf.length) this.makeRoom(chunk.length - off);
      const n = Math.min(chunk.length - off, this.buf.length - this.avail);
      this.buf.set(chunk.subarray(off, off + n), this.avail);
      this.avail += n;
      off += n;
      if (this.table) this.scan(false);
      else this.slack(false);
    }
    return this.writer.take();
  }

  /** Ends the input; returns the rest of the delta, END included. */
  end(): Buffer[] {
    if (!this.ended) {
      this.ended = true;
      if (this.table) {
        this.scan(true);
        if (this.copyLen > 0) this.writer.copy(this.copyPos, this.copyLen);
        else if (this.pos > this.litStart) this.writer.literal(this.buf, this.litStart, this.pos);
      } else {
        this.slack(true);
      }
      this.writer.end();
      this.releaseBuffer();
    }
    return this.writer.take(true);
  }

  /** A grown buffer goes back to the pool (the first, small one is left to the GC). */
  private releaseBuffer(): void {
    if (this.buf instanceof Buffer) giveBuffer(this.buf);
    this.buf = EMPTY;
  }

  /**
   * Drops emitted input from the buffer's front; grows the buffer when that frees
   * nothing (a block longer than the buffer) or less than the waiting input needs.
   */
  private makeRoom(waiting: number): void {
    const drop = this.litStart;
    const kept = this.avail - drop;
    const wanted = Math.min(waiting, MAX_BUFFER);
    let size = this.buf.length;
    if (this.table && drop === 0) size *= 2;
    while (this.table && size - kept < wanted && size < MAX_BUFFER) size *= 2;
    if (size !== this.buf.length) {
      const grown = takeBuffer(size);
      grown.set(this.buf.subarray(drop, this.avail));
      this.releaseBuffer();
      this.buf = grown;
    } else {
      this.buf.copyWithin(0, drop, this.avail);
    }
    this.avail = kept;
    this.pos -= drop;
    this.litStart = 0;
    if (this.nextPos >= 0) this.nextPos -= drop;
  }

  /** A signature without blocks: literals of one block each. */
  private slack(final: boolean): void {
    const size = this.buf.length;
    if (this.avail === size || (final && this.avail > 0)) {
      this.writer.literal(this.buf, 0, this.avail);
      this.avail = 0;
    }
  }

  /**
   * The matching loop over [pos, avail); `final` = no more input follows.
   *
   * Two fast paths keep the common cases cheap without changing any decision:
   *  - after a match (a fresh window) in an MD4/rollsum signature, the weak and
   *    strong sums of this window and the next one are computed in one fused pass
   *    (md4RollsumPair); in a run of matching blocks the next window is exactly
   *    the one precomputed;
   *  - after a miss, a tight loop rolls the window byte by byte and tests only
   *    the cache-resident filter until some window might match.
   */
  private scan(final: boolean): void {
    const buf = this.buf, avail = this.avail, B = this.blockLen;
    const table = this.table!;
    const filter = table.filter, shift = table.filterShift;
    const rollsum = this.rollsum, fused = this.fused;
    const writer = this.writer;
    const multB = this.multB;
    const outWeight = Math.imul(B, ROLLSUM_CHAR_OFFSET);
    const pair = this.pair;
    let pos = this.pos, litStart = this.litStart, copyPos = this.copyPos, copyLen = this.copyLen;
    let wcount = this.wcount, s1 = this.s1, s2 = this.s2;
    for (;;) {
      const full = pos + B < avail;
      if (!full && !(final && pos < avail)) break;
      let strongAt = -1; // offset in `pair` of this window's strong hash, when already known
      if (wcount === 0) {
        wcount = full ? B : avail - pos;
        let d: number;
        if (full && this.nextPos === pos) {
          d = this.nextWeak;
          strongAt = 16;
        } else if (full && fused && pos + 2 * B < avail) {
          const weaks = 2 * B <= MD4_FAST_MAX ? pairWeakFast : pairWeak;
          if (weaks === pairWeakFast) md4RollsumPairFast(buf, pos, pos + B, B, pair, 0, 16);
          else md4RollsumPair(buf, pos, pos + B, B, pair, 0, 16);
          d = weaks[0]!;
          strongAt = 0;
          this.nextPos = pos + B;
          this.nextWeak = weaks[1]!;
        } else if (rollsum) {
          d = rollsumBlock(buf, pos, wcount);
        } else {
          d = rabinkarpBlock(buf, pos, wcount);
        }
        if (rollsum) {
          s1 = d & 0xffff;
          s2 = d >>> 16;
        } else {
          s1 = d | 0;
          s2 = wcount === B ? multB : rabinkarpPow(wcount);
        }
      }
      const weak = rollsum ? (s2 << 16) | (s1 & 0xffff) : s1;
      const bit = Math.imul(weak, FILTER_MULT_1) >>> shift, bit2 = Math.imul(weak, FILTER_MULT_2) >>> shift;
      if ((filter[bit >>> 5] & (1 << (bit & 31))) !== 0 && (filter[bit2 >>> 5] & (1 << (bit2 & 31))) !== 0) {
        let key = rollsum ? mix32(weak) : weak;
        if (key === 0) key = -1;
        const block = strongAt >= 0 ? table.findStrong(key, pair, strongAt) : table.find(key, buf, pos, wcount);
        if (block >= 0) {
          const at = block * B;
          if (copyLen > 0 && copyPos + copyLen === at) {
            copyLen += wcount;
          } else {
            if (copyLen > 0) writer.copy(copyPos, copyLen);
            else if (pos > litStart) writer.literal(buf, litStart, pos);
            copyPos = at;
            copyLen = wcount;
          }
          pos += wcount;
          litStart = pos;
          wcount = 0;
          continue;
        }
      }
      // A miss at pos.
      if (copyLen > 0) {
        writer.copy(copyPos, copyLen);
        copyLen = 0;
      } else if (pos - litStart >= MAX_LITERAL_RUN) {
        writer.literal(buf, litStart, pos);
        litStart = pos;
      }
      if (!full) {
        // End of input: the window loses its first byte instead of rolling.
        const out = buf[pos];
        if (rollsum) {
          s1 = (s1 - out - ROLLSUM_CHAR_OFFSET) | 0;
          s2 = (s2 - Math.imul(wcount, out + ROLLSUM_CHAR_OFFSET)) | 0;
          wcount--;
        } else {
          wcount--;
          s2 = Math.imul(s2, RABINKARP_INVM);
          s1 = (s1 - Math.imul(s2, out + RABINKARP_ADJ)) | 0;
        }
        pos++;
        continue;
      }
      // Roll on while no window can match: per byte one roll, one filter test and
      // the 32 KiB literal cut. Stops at a filter hit or where the window is no longer full.
      const end = avail - B;
      if (rollsum) {
        for (;;) {
          const out = buf[pos], inb = buf[pos + B];
          s1 = (s1 + inb - out) | 0;
          s2 = (s2 + s1 - outWeight - Math.imul(out, B)) | 0;
          pos++;
          if (pos >= end) break;
          const w = (s2 << 16) | (s1 & 0xffff);
          const f = Math.imul(w, FILTER_MULT_1) >>> shift;
          if ((filter[f >>> 5] & (1 << (f & 31))) !== 0) {
            const g = Math.imul(w, FILTER_MULT_2) >>> shift;
            if ((filter[g >>> 5] & (1 << (g & 31))) !== 0) break;
          }
          if (pos - litStart >= MAX_LITERAL_RUN) {
            writer.literal(buf, litStart, pos);
            litStart = pos;
          }
        }
      } else {
        for (;;) {
          const out = buf[pos], inb = buf[pos + B];
          s1 = (Math.imul(s1, RABINKARP_MULT) + inb - Math.imul(s2, out + RABINKARP_ADJ)) | 0;
          pos++;
          if (pos >= end) break;
          const f = Math.imul(s1, FILTER_MULT_1) >>> shift;
          if ((filter[f >>> 5] & (1 << (f & 31))) !== 0) {
            const g = Math.imul(s1, FILTER_MULT_2) >>> shift;
            if ((filter[g >>> 5] & (1 << (g & 31))) !== 0) break;
          }
          if (pos - litStart >= MAX_LITERAL_RUN) {
            writer.literal(buf, litStart, pos);
            litStart = pos;
          }
        }
      }
    }
    this.pos = pos; this.litStart = litStart; this.copyPos = copyPos; this.copyLen = copyLen;
    this.wcount = wcount; this.s1 = s1; this.s2 = s2;
  }
}

/** The delta of a stream against a signature, as it is computed. */
export async function* deltaStream(sig: Signature, input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer> {
  const encoder = new DeltaEncoder(sig);
  for await (const chunk of input) yield* encoder.write(chunk);
  yield* encoder.end();
}


/** Writes the delta of the file at newPath against sig to `out`. Resolves when all is written. */
export async function deltaFile(sig: Signature, newPath: string | Buffer, out: DeltaSink): Promise<void> {
  const fh: FileHandle = await open(newPath, 'r');
  try {
    const size = (await fh.stat()).size;
    await writeAll(deltaStream(sig, readHandleChunks(fh, Math.min(READ_CHUNK, Math.max(size, 1)))), out);
  } finally {
    await fh.close();
  }
}
