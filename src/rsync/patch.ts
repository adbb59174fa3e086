/**
 * Applying a librsync delta (spec librsync-format.md §5) to a basis file.
 *
 * The delta arrives in chunks of any size (e.g. straight from a socket); the
 * basis is read by offset; the result goes to a file descriptor the caller
 * owns (a temp file it renames afterwards: this code never touches the target).
 * Every command width librsync defines is accepted, in any encoding. A delta
 * that is truncated, has a bad magic, a reserved opcode, a zero length, or a
 * COPY past the end of the basis fails with an RsyncError naming the offset of
 * the offending byte in the delta stream.
 */
import { closeSync, fstatSync, openSync, read, readSync, write, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { RsyncStreamError } from './errors.js';
import { emptyStats, type DeltaStats } from './stats.js';
import { DELTA_MAGIC, OP_COPY_BASE, OP_COPY_LAST, OP_END, OP_LITERAL_MAX_IMMEDIATE, OP_LITERAL_N1, WIDTHS } from './format.js';

/** Output is collected and written in pieces of this size. */
const OUT_BUFFER = 1 << 20;
/** A whole output up to this size is written with one blocking write (no thread-pool hop). */
const SYNC_WRITE_MAX = 256 * 1024;
/**
 * Output buffers of finished patches, for the next ones: a fresh 1 MiB buffer
 * per small file made V8 run a full GC every few files (external memory).
 */
const bufferPool: Buffer[] = [];
const POOL_MAX = 4;

function takeBuffer(): Buffer {
  return bufferPool.pop() ?? Buffer.allocUnsafe(OUT_BUFFER);
}

function giveBuffer(b: Buffer | null): void {
  if (b !== null && b.length === OUT_BUFFER && bufferPool.length < POOL_MAX) bufferPool.push(b);
}
/** COPY pieces at least this long are read asynchronously; shorter ones with one pread. */
const ASYNC_READ_MIN = 64 * 1024;

const TWO_TO_63 = 2 ** 63;
const EMPTY_OUT = Buffer.alloc(0);

const enum State { Magic, Command, Params, Literal, Copy, Done }
const enum Need { Nothing, Flush, LargeCopy }

/** The basis window cached for short COPYs, and the smallest pread when the window did not pay off. */
const CACHE_WINDOW = 64 * 1024;
const MIN_PREAD = 4096;

/**
 * Parameter bytes of each opcode: (total << 4) | width of the first parameter.
 * LITERAL_N1..N8 have one (the length); COPY_Nw_Nl two (position, length).
 */
const PARAM_WIDTHS = new Uint16Array(256);
for (let op = OP_LITERAL_N1; op <= OP_COPY_LAST; op++) {
  const first = op < OP_COPY_BASE ? WIDTHS[op - OP_LITERAL_N1] : WIDTHS[(op - OP_COPY_BASE) >> 2];
  const second = op < OP_COPY_BASE ? 0 : WIDTHS[(op - OP_COPY_BASE) & 3];
  PARAM_WIDTHS[op] = ((first + second) << 4) | first;
}

/** The basis of a patch: a file read by offset, or nothing (an empty basis). */
export interface Basis {
  readonly size: number;
  /**
   * Reads `length` bytes at `position` into buf[offset..] and returns how many it
   * got: fewer only at the end of the basis. readSmall blocks (one pread: cheaper
   * than a trip through the thread pool for a short COPY); read does not.
   */
  readSmall(buf: Uint8Array, offset: number, length: number, position: number): number;
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
}

/** A basis file opened for the patch; close() when done. */
export class BasisFile implements Basis {
  readonly size: number;
  private readonly fd: number;

  constructor(path: string | Buffer) {
    this.fd = openSync(path, 'r');
    try {
      this.size = fstatSync(this.fd).size;
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  readSmall(buf: Uint8Array, offset: number, length: number, position: number): number {
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buf, offset + got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got;
  }

  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    let got = 0;
    while (got < length) {
      const n = await new Promise<number>((resolve, reject) => {
        read(this.fd, buf, offset + got, length - got, position + got, (err, count) => (err ? reject(err) : resolve(count)));
      });
      if (n === 0) break;
      got += n;
    }
    return got;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Where patch output goes: a file descriptor (written at its current offset) or a stream. */
export type PatchSink = number | Writable;

const EMPTY_BASIS: Basis = {
  size: 0,
  readSmall: () => 0,
  read: async () => 0,
};

export class Patcher {
  private state = State.Magic;
  /** Bytes of the delta consumed so far (offsets in errors count from the delta's start). */
  private offset = 0;
  /** Magic or command parameters split across chunks are collected here. */
  private readonly field = new Uint8Array(16);
  private fieldLen = 0;
  private fieldNeed = 4;
  private op = 0;
  private opOffset = 0;
  private literalLeft = 0;
  /** The COPY being executed: next basis position and bytes left. */
  private copyPos = 0;
  private copyLeft = 0;
  /** What pump() stopped for. */
  private need = Need.Nothing;
  private out: Buffer = takeBuffer();
  private outLen = 0;
  /** The other output buffer, being written while `out` fills (allocated on first use). */
  private spare: Buffer | null = null;
  private writing: Promise<void> | null = null;
  private writeError: unknown = null;
  /** A window of the basis kept for short COPYs (one pread serves many nearby ones). */
  private cache: Buffer | null = null;
  private cacheStart = 0;
  private cacheLen = 0;
  private cacheUsed = true;
  /** Bytes of output handed to the sink so far. */
  written = 0;
  readonly stats: DeltaStats = emptyStats();
  private readonly basisOrEmpty: Basis;

  constructor(basis: Basis | null, private readonly sink: PatchSink) {
    this.basisOrEmpty = basis ?? EMPTY_BASIS;
  }

  /** True once the END command has been read; later input is ignored, as librsync does. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** Applies the next piece of the delta. */
  async write(chunk: Uint8Array): Promise<void> {
    let i = 0;
    for (;;) {
      i = this.pump(chunk, i);
      const need = this.need;
      this.need = Need.Nothing;
      if (need === Need.Flush) await this.flush();
      else if (need === Need.LargeCopy) await this.largeCopy();
      else return;
    }
  }

  /** The delta is complete: checks it ended properly and writes the rest of the output. */
  async end(): Promise<void> {
    if (this.state !== State.Done) {
      const what = this.state === State.Magic ? 'delta header truncated' : 'delta ended without END command';
      throw new RsyncStreamError('input-ended', what, this.offset);
    }
    const sink = this.sink;
    if (typeof sink === 'number' && this.writing === null && this.written === 0 && this.outLen <= SYNC_WRITE_MAX) {
      // The common small file: its only write, done here.
      for (let off = 0; off < this.outLen;) off += writeSync(sink, this.out, off, this.outLen - off);
      this.written = this.outLen;
      this.outLen = 0;
    } else {
      await this.flush(true);
    }
    // Every write has finished: the buffers can serve the next patch (a stream may still hold its own).
    if (typeof sink === 'number') {
      giveBuffer(this.out);
      giveBuffer(this.spare);
      this.out = EMPTY_OUT;
      this.spare = null;
    }
  }

  /**
   * Runs commands synchronously from chunk[i..] until the chunk is used up or
   * something needs awaiting (this.need: a full output buffer, a large COPY).
   * Returns where it stopped in the chunk.
   */
  private pump(chunk: Uint8Array, i: number): number {
    const n = chunk.length;
    for (;;) {
      switch (this.state) {
        case State.Command: {
          if (i >= n) return i;
          // Fast path: opcode and parameters all in this chunk.
          const op = chunk[i];
          const widths = PARAM_WIDTHS[op];
          const total = widths >> 4, first = widths & 15;
          this.op = op;
          this.opOffset = this.offset;
          if (i + 1 + total <= n) {
            i++;
            this.offset += 1 + total;
            if (total === 0) this.command();
            else this.params(readUint(chunk, i, first), first, readUint(chunk, i + first, total - first), total - first);
            i += total;
          } else {
            i++;
            this.offset++;
            this.command();
            if ((this.state as State) === State.Params) {
              this.fieldNeed = total;
              this.fieldLen = 0;
            }
          }
          break;
        }
        case State.Magic:
        case State.Params: {
          if (i >= n) return i;
          const take = Math.min(this.fieldNeed - this.fieldLen, n - i);
          this.field.set(chunk.subarray(i, i + take), this.fieldLen);
          this.fieldLen += take;
          i += take;
          this.offset += take;
          if (this.fieldLen === this.fieldNeed) this.fieldComplete();
          break;
        }
        case State.Literal: {
          if (i >= n) return i;
          if (this.outLen === this.out.length) { this.need = Need.Flush; return i; }
          const take = Math.min(this.literalLeft, n - i, this.out.length - this.outLen);
          this.out.set(chunk.subarray(i, i + take), this.outLen);
          this.outLen += take;
          i += take;
          this.offset += take;
          this.literalLeft -= take;
          if (this.literalLeft === 0) this.state = State.Command;
          break;
        }
        case State.Copy: {
          if (this.outLen === this.out.length) { this.need = Need.Flush; return i; }
          const piece = Math.min(this.copyLeft, this.out.length - this.outLen);
          if (piece >= ASYNC_READ_MIN) { this.need = Need.LargeCopy; return i; }
          this.copySmall(piece);
          break;
        }
        case State.Done:
          return n;
      }
    }
  }

  /** An opcode without parameters (END, LITERAL_1..64), or one whose parameters come next. */
  private command(): void {
    const op = this.op;
    if (op === OP_END) {
      this.state = State.Done;
    } else if (op <= OP_LITERAL_MAX_IMMEDIATE) {
      this.countLiteral(op, 1);
      this.literalLeft = op;
      this.state = State.Literal;
    } else if (op <= OP_COPY_LAST) {
      this.state = State.Params;
    } else {
      throw new RsyncStreamError('corrupt', `bogus delta command 0x${op.toString(16)}`, this.opOffset);
    }
  }

  private fieldComplete(): void {
    if (this.state === State.Magic) {
      const magic = readUint(this.field, 0, 4);
      if (magic !== DELTA_MAGIC) {
        throw new RsyncStreamError('bad-magic', `bad delta magic 0x${magic.toString(16).padStart(8, '0')}`, 0);
      }
      this.state = State.Command;
      return;
    }
    const first = PARAM_WIDTHS[this.op] & 15;
    this.params(readUint(this.field, 0, first), first, readUint(this.field, first, this.fieldNeed - first), this.fieldNeed - first);
  }

  /** A LITERAL_Nx (one parameter) or COPY (two) with its parameters read. */
  private params(first: number, firstWidth: number, second: number, secondWidth: number): void {
    if (this.op < OP_COPY_BASE) {
      this.checkLength(first, 'LITERAL');
      this.countLiteral(first, 1 + firstWidth);
      this.literalLeft = first;
      this.state = State.Literal;
      return;
    }
    const position = first, length = second;
    this.checkLength(length, 'COPY');
    if (position >= TWO_TO_63) {
      throw new RsyncStreamError('corrupt', `invalid position ${position} on COPY command`, this.opOffset);
    }
    const size = this.basisOrEmpty.size;
    if (position + length > size) {
      throw new RsyncStreamError('input-ended',
        `COPY of ${length} bytes at ${position} goes past the basis end (${size} bytes)`, this.opOffset);
    }
    this.stats.copyCommands++;
    this.stats.copyBytes += length;
    this.stats.copyCommandBytes += 1 + firstWidth + secondWidth;
    this.copyPos = position;
    this.copyLeft = length;
    this.state = State.Copy;
  }

  /** librsync reads 8-byte fields as signed: zero or "negative" lengths are corrupt. */
  private checkLength(length: number, what: string): void {
    if (length <= 0 || length >= TWO_TO_63) {
      throw new RsyncStreamError('corrupt', `invalid length ${length} on ${what} command`, this.opOffset);
    }
  }

  private countLiteral(length: number, commandBytes: number): void {
    this.stats.literalCommands++;
    this.stats.literalBytes += length;
    this.stats.literalCommandBytes += commandBytes;
  }

  /**
   * A short piece of the current COPY, synchronously: from the cached basis window
   * when it holds the range, else one pread (of a whole window if the last one was
   * used again, so scattered short copies do not read 64 KiB each).
   */
  private copySmall(piece: number): void {
    const pos = this.copyPos;
    if (!(pos >= this.cacheStart && pos + piece <= this.cacheStart + this.cacheLen)) {
      this.cache ??= Buffer.allocUnsafe(CACHE_WINDOW);
      const want = Math.min(this.cacheUsed ? CACHE_WINDOW : Math.max(piece, MIN_PREAD), this.basisOrEmpty.size - pos);
      const got = this.basisOrEmpty.readSmall(this.cache, 0, want, pos);
      if (got < piece) {
        this.cacheLen = 0;
        throw new RsyncStreamError('input-ended', `basis ended early while copying at ${pos}`, this.opOffset);
      }
      this.cacheStart = pos;
      this.cacheLen = got;
      this.cacheUsed = false;
    } else {
      this.cacheUsed = true;
    }
    const from = pos - this.cacheStart;
    this.cache!.copy(this.out, this.outLen, from, from + piece);
    this.outLen += piece;
    this.copyPos += piece;
    this.copyLeft -= piece;
    if (this.copyLeft === 0) this.state = State.Command;
  }

  /** A long piece of the current COPY, read asynchronously straight into the output buffer. */
  private async largeCopy(): Promise<void> {
    const piece = Math.min(this.copyLeft, this.out.length - this.outLen);
    const got = await this.basisOrEmpty.read(this.out, this.outLen, piece, this.copyPos);
    if (got !== piece) {
      throw new RsyncStreamError('input-ended', `basis ended early while copying at ${this.copyPos}`, this.opOffset);
    }
    this.outLen += piece;
    this.copyPos += piece;
    this.copyLeft -= piece;
    if (this.copyLeft === 0) this.state = State.Command;
  }

  /**
   * Hands the full output buffer to a background write and continues in the other
   * one, so basis reads and output writes overlap; `wait` also waits for the write.
   */
  private async flush(wait = false): Promise<void> {
    await this.settle();
    if (this.outLen > 0) {
      const full = this.out, length = this.outLen;
      this.writing = writeOut(this.sink, full, length).catch((err: unknown) => { this.writeError = err; });
      this.written += length;
      this.out = this.spare ?? takeBuffer();
      // A stream may hold on to what it was given: only an fd's buffer comes back for reuse.
      this.spare = typeof this.sink === 'number' ? full : null;
      this.outLen = 0;
    }
    if (wait) await this.settle();
  }

  private async settle(): Promise<void> {
    if (this.writing) {
      await this.writing;
      this.writing = null;
    }
    if (this.writeError !== null) throw this.writeError;
  }
}

function writeOut(sink: PatchSink, buf: Buffer, length: number): Promise<void> {
  if (typeof sink !== 'number') {
    return new Promise((resolve, reject) => {
      sink.write(buf.subarray(0, length), (err) => (err ? reject(err) : resolve()));
    });
  }
  const fd = sink;
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      if (off >= length) { resolve(); return; }
      write(fd, buf, off, length - off, null, (err, n) => (err ? reject(err) : step(off + n)));
    };
    step(0);
  });
}

/** Big-endian unsigned integer of 1..8 bytes (exact up to 2^53). */
function readUint(b: Uint8Array, p: number, width: number): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 256 + b[p + i];
  return v;
}

/**
 * Applies a whole delta: basis (null = empty) + delta stream -> outFd (or a
 * stream). The caller creates the output file (a temp file) and renames it when
 * this resolves; on a rejection the temp file holds garbage and is the caller's to remove.
 */
export async function patchToFile(basisPath: string | Buffer | null, delta: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  outFd: PatchSink): Promise<DeltaStats> {
  const basis = basisPath === null ? null : new BasisFile(basisPath);
  try {
    const patcher = new Patcher(basis, outFd);
    // Read to the end even after END: the stream may be a framed socket read.
    for await (const chunk of delta) await patcher.write(chunk);
    await patcher.end();
    return patcher.stats;
  } finally {
    basis?.close();
  }
}
