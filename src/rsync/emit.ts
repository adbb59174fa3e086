/**
 * Encodes delta commands (spec librsync-format.md §5) the way librsync's emit.c
 * does: one-byte LITERAL_1..64, otherwise the narrowest length field; COPY with
 * the narrowest position and length fields chosen separately.
 *
 * Output collects in a buffer that is handed out in pieces of about OUT_CHUNK
 * bytes; each piece is a fresh Buffer the caller may keep or write at leisure.
 */
import { emptyStats, type DeltaStats } from './stats.js';
import {
  DELTA_MAGIC, OP_COPY_BASE, OP_END, OP_LITERAL_MAX_IMMEDIATE, OP_LITERAL_N1, WIDTHS, widthIndex,
} from './format.js';

const OUT_CHUNK = 256 * 1024;
/** The first output buffer is small: most deltas csync2 sends are a few commands. */
const FIRST_BUFFER = 4096;

export class DeltaWriter {
  private out: Uint8Array;
  private len = 0;
  private readonly ready: Buffer[] = [];
  readonly stats: DeltaStats = emptyStats();

  constructor() {
    this.out = Buffer.allocUnsafe(FIRST_BUFFER);
    this.putInt(DELTA_MAGIC, 4);
  }

  /** A LITERAL command carrying src[start, end). */
  literal(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    const stats = this.stats;
    stats.literalCommands++;
    stats.literalBytes += n;
    if (n <= OP_LITERAL_MAX_IMMEDIATE) {
      this.room(1 + n);
      this.out[this.len++] = n;
      stats.literalCommandBytes += 1;
    } else {
      const w = widthIndex(n);
      this.room(1 + WIDTHS[w] + n);
      this.out[this.len++] = OP_LITERAL_N1 + w;
      this.putInt(n, WIDTHS[w]);
      stats.literalCommandBytes += 1 + WIDTHS[w];
    }
    this.out.set(src.subarray(start, end), this.len);
    this.len += n;
    if (this.len >= OUT_CHUNK) this.cut();
  }

  /** A COPY of `length` basis bytes from `position`. */
  copy(position: number, length: number): void {
    const wp = widthIndex(position), wl = widthIndex(length);
    this.room(17);
    this.out[this.len++] = OP_COPY_BASE + 4 * wp + wl;
    this.putInt(position, WIDTHS[wp]);
    this.putInt(length, WIDTHS[wl]);
    this.stats.copyCommands++;
    this.stats.copyBytes += length;
    this.stats.copyCommandBytes += 1 + WIDTHS[wp] + WIDTHS[wl];
    if (this.len >= OUT_CHUNK) this.cut();
  }

  end(): void {
    this.room(1);
    this.out[this.len++] = OP_END;
  }

  /** The output produced so far, in order; the writer keeps nothing of it. */
  take(final = false): Buffer[] {
    if (final || this.len >= OUT_CHUNK / 2) this.cut();
    return this.ready.splice(0, this.ready.length);
  }

  private room(n: number): void {
    if (this.len + n <= this.out.length) return;
    if (this.out.length < OUT_CHUNK) {
      // Still growing towards OUT_CHUNK: keep the bytes, move to a bigger buffer.
      let size = this.out.length * 2;
      while (size < this.len + n && size < OUT_CHUNK) size *= 2;
      if (size >= this.len + n) {
        const grown = Buffer.allocUnsafe(size);
        grown.set(this.out.subarray(0, this.len));
        this.out = grown;
        return;
      }
    }
    this.cut();
    if (n > this.out.length) this.out = Buffer.allocUnsafe(n);
  }

  private cut(): void {
    if (this.len === 0) return;
    const out = this.out;
    this.ready.push(Buffer.from(out.buffer, out.byteOffset, this.len));
    this.out = Buffer.allocUnsafe(out.length);
    this.len = 0;
  }

  /** Big-endian unsigned integer of `width` bytes (values up to 2^53). */
  private putInt(value: number, width: number): void {
    const out = this.out;
    let p = this.len + width;
    this.len = p;
    let v = value;
    for (let i = 0; i < width; i++) {
      const byte = v % 256;
      out[--p] = byte;
      v = (v - byte) / 256;
    }
  }
}
