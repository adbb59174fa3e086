/**
 * Reading side of a csync2 connection: LF-terminated lines, exact byte counts,
 * framed payloads streamed in chunks, and the unframed TYPE tail. Sits on any
 * Node Readable (socket, TLS socket, pipe) and never loses or duplicates bytes
 * across chunk boundaries. One consumer at a time: do not start a read before
 * the previous one finished.
 *
 * Like csync2, a read error on the connection counts as end of file; the error
 * itself is kept in `lastError` for diagnostics.
 */
import type { Readable } from 'node:stream';
import type { BStr } from '../util/bytes.js';
import { ProtocolError } from '../util/errors.js';
import { FRAME_HEADER_MAX, FRAME_CHUNK } from './limits.js';
import { ChunkedAbort, FORMAT_ERROR, FRAME_CHUNKED, FRAME_ERROR, parseFrameHeader } from './frame.js';
import type { WireTap } from './wiredump.js';

export const READ_ERROR = 'Read-error while receiving data.';

export function lineTooLong(maxSize: number): BStr {
  return `Received line too long for buffer size (${maxSize}), giving up.`;
}

export interface LineReaderOptions {
  /** Receives `Peer>` dumps (-vvv); null/absent = no dumps. */
  tap?: WireTap | null;
  /** Pause the source once this many bytes wait unread (default 1 MiB). */
  highWater?: number;
}

const LF = 0x0a;
const EMPTY = Buffer.alloc(0);
/** readExact() of at least this many bytes fills one buffer as they arrive. */
const EXACT_INTO_PLACE_MIN = 1 << 20;

export class LineReader {
  /** Queue of received chunks; live data starts at chunks[head] + headOff. */
  private chunks: Buffer[] = [];
  private head = 0;
  private headOff = 0;
  private size = 0;
  /** LF scan cursor: the first `scanned` live bytes hold no LF; resume at chunks[scanIdx] + scanOff. */
  private scanned = 0;
  private scanIdx = 0;
  private scanOff = 0;

  private eof = false;
  private detached = false;
  private pausedByUs = false;
  private wake: (() => void) | null = null;
  private readonly highWater: number;
  /**
   * Called whenever a read must wait for the network (the daemon commits and
   * sends its held replies then), with the bytes still missing of the frame
   * payload being read, if it is one. A promise means it waited for something.
   */
  beforeWait: ((frameLeft?: number) => Promise<void> | void) | null = null;
  private readonly tap: WireTap | null;
  /** The error that ended the stream, if it did not end cleanly. */
  lastError: Error | null = null;

  private readonly onData = (chunk: Buffer | string): void => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    if (buf.length === 0) return;
    this.chunks.push(buf);
    this.size += buf.length;
    if (this.size >= this.highWater && !this.pausedByUs) {
      this.pausedByUs = true;
      this.src.pause();
    }
    this.notify();
  };
  private readonly onEnd = (): void => {
    this.eof = true;
    this.notify();
  };
  private readonly onClose = (): void => {
    // Bytes the source still holds (we may have paused it) are data, not lost.
    let chunk: Buffer | string | null;
    while ((chunk = this.src.read() as Buffer | string | null) !== null) this.onData(chunk);
    this.onEnd();
  };
  private readonly onError = (err: Error): void => {
    this.lastError ??= err;
    this.eof = true;
    this.notify();
  };

  constructor(private readonly src: Readable, opts: LineReaderOptions = {}) {
    this.highWater = opts.highWater ?? 1 << 20;
    this.tap = opts.tap ?? null;
    src.on('data', this.onData);
    src.on('end', this.onEnd);
    src.on('close', this.onClose);
    src.on('error', this.onError);
    if (src.readableEnded || src.destroyed) this.eof = true;
  }

  /** Bytes received but not yet consumed. */
  get bufferedLength(): number {
    return this.size;
  }

  /** True once the source ended (or failed) and every buffered byte was consumed. */
  get atEof(): boolean {
    return this.eof && this.size === 0;
  }

  /**
   * One line without its LF, or null at end of file. A line needs its LF within
   * `maxSize - 1` bytes, else ProtocolError `Received line too long for buffer
   * size (<maxSize>), giving up.`. As in csync2, end of file after two or more
   * bytes of an unterminated line gives that same error, and a single byte
   * before end of file comes back as a line.
   */
  async readLine(maxSize: number): Promise<BStr | null> {
    this.usable();
    for (;;) {
      const line = this.lineNow(maxSize);
      if (line !== undefined) return line;
      await this.more();
    }
  }

  /** Wait until more bytes, end of file or an error arrive (after readLineNow() said it needs more). */
  async awaitMore(): Promise<void> {
    this.usable();
    await this.more();
  }

  /**
   * readLine() without waiting: the line, null or the error it would give now, or undefined
   * when it needs more data first. Lets a caller take many buffered lines (a LIST of 50k rows)
   * without a promise for each.
   */
  readLineNow(maxSize: number): BStr | null | undefined {
    this.usable();
    return this.lineNow(maxSize);
  }

  private lineNow(maxSize: number): BStr | null | undefined {
    const limit = maxSize - 1;
    const lf = this.findLF(limit);
    if (lf >= 0) {
      const head = this.chunks[this.head]!;
      if (this.tap === null && this.headOff + lf < head.length) {
        // The whole line is in the first chunk: the text straight from it, no Buffer view per line.
        const text = head.toString('latin1', this.headOff, this.headOff + lf);
        this.advance(head, lf + 1);
        return text;
      }
      const line = this.consume(lf + 1);
      this.tap?.('Peer', line);
      return line.toString('latin1', 0, line.length - 1);
    }
    if (this.size >= limit || this.eof) {
      const n = Math.min(this.size, limit);
      if (n === 0) return null;
      const part = this.consume(n);
      this.tap?.('Peer', part);
      if (n > 1) {
        const why = this.eof && n < limit ? 'connection closed within a line' : `no LF within ${limit} bytes`;
        throw new ProtocolError(lineTooLong(maxSize), undefined, undefined, why);
      }
      return part.toString('latin1');
    }
    return undefined;
  }

  /** Exactly n bytes; end of file before that is ProtocolError `Read-error while receiving data.`. */
  async readExact(n: number): Promise<Buffer> {
    this.usable();
    // A big payload (a big file's signature) is copied into place as it arrives: collecting
    // the chunks first and joining them at the end held it twice.
    if (n >= EXACT_INTO_PLACE_MIN && this.size < n) return this.readIntoPlace(n);
    while (this.size < n) {
      if (this.eof) throw new ProtocolError(READ_ERROR, undefined, undefined, `EOF after ${this.size} of ${n} bytes`);
      await this.more();
    }
    const out = this.consume(n);
    this.dumpChunks(out);
    return out;
  }

  private async readIntoPlace(n: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(n);
    for (let filled = 0; filled < n;) {
      if (this.size === 0) {
        if (this.eof) throw new ProtocolError(READ_ERROR, undefined, undefined, `EOF after ${filled} of ${n} bytes`);
        await this.more();
        continue;
      }
      filled += this.consumeSome(n - filled).copy(out, filled);
    }
    this.dumpChunks(out);
    return out;
  }

  /**
   * Read an `octet-stream <N>` header line (100-byte buffer) and return N, or
   * FRAME_ERROR (-1) for `octet-stream -N` / `ERROR`. End of file or any other
   * line is ProtocolError `Format-error while receiving data.`.
   */
  async readFrameHeader(allowErrorWord = true): Promise<number> {
    const line = await this.readLine(FRAME_HEADER_MAX);
    if (line === null) throw new ProtocolError(FORMAT_ERROR, undefined, undefined, 'EOF instead of a frame header');
    return parseFrameHeader(line, allowErrorWord);
  }

  /**
   * The n payload bytes of one frame, as chunks in arrival order (zero-copy where
   * possible), so big payloads stream without being collected. The consumer must
   * read it to the end: bytes left unread stay in the stream and desynchronise it.
   */
  async *readFramePayload(n: number): AsyncGenerator<Buffer, void, undefined> {
    this.usable();
    let left = n;
    while (left > 0) {
      if (this.size === 0) {
        if (this.eof) throw new ProtocolError(READ_ERROR, undefined, undefined, `EOF with ${left} of ${n} bytes missing`);
        await this.more(left);
        continue;
      }
      const chunk = this.consumeSome(left);
      left -= chunk.length;
      this.dumpChunks(chunk);
      yield chunk;
    }
  }

  /**
   * A chunked payload (FRAME_CHUNKED): the bytes of every frame up to `octet-stream 0`.
   * `octet-stream -1` instead of a frame throws ChunkedAbort (the stream is in step then).
   */
  async *readChunkedPayload(): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      const n = await this.readFrameHeader(true);
      if (n === 0) return;
      if (n === FRAME_ERROR) throw new ChunkedAbort();
      yield* this.readFramePayload(n);
    }
  }

  /** The payload whose header said `size`: one frame's bytes, or a chunked run's (FRAME_CHUNKED). */
  readPayload(size: number): AsyncGenerator<Buffer, void, undefined> {
    return size === FRAME_CHUNKED ? this.readChunkedPayload() : this.readFramePayload(Math.max(0, size));
  }

  /** A whole frame payload in one buffer (for small payloads such as signatures). */
  async readFrame(n: number): Promise<Buffer> {
    return this.readExact(n);
  }

  /** Everything until end of file (the raw data after `TYPE`). */
  async *readToEnd(): AsyncGenerator<Buffer, void, undefined> {
    this.usable();
    for (;;) {
      if (this.size === 0) {
        if (this.eof) return;
        await this.more();
        continue;
      }
      const chunk = this.consumeSome(this.size);
      this.dumpChunks(chunk);
      yield chunk;
    }
  }

  /**
   * Stop reading from the source and hand over every byte received but not
   * consumed (e.g. before a TLS upgrade on the same socket). The source is left
   * paused, with our listeners removed; bytes still in the source's own buffer
   * stay there, behind the returned ones. The reader is unusable afterwards.
   */
  takeBuffered(): Buffer {
    this.detach();
    const out = this.size === 0 ? EMPTY : this.consume(this.size);
    this.chunks = [];
    this.head = 0;
    return out;
  }

  /** Remove the listeners from the source (done by takeBuffered). */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.src.off('data', this.onData);
    this.src.off('end', this.onEnd);
    this.src.off('close', this.onClose);
    this.src.off('error', this.onError);
    this.src.pause();
    // Keep one listener so a late socket error cannot crash the process.
    this.src.on('error', () => {});
    this.eof = true;
    this.notify();
  }

  /** The owner is waiting for the peer: nothing is buffered and more() has not been woken yet. */
  get waiting(): boolean {
    return this.wake !== null;
  }

  // --- internals ---

  private usable(): void {
    if (this.detached) throw new Error('LineReader used after takeBuffered()');
  }

  private notify(): void {
    const w = this.wake;
    if (w) {
      this.wake = null;
      w();
    }
  }

  /** Wait until more data, end of file or an error arrives (`frameLeft`: bytes missing of a frame payload). */
  private more(frameLeft?: number): Promise<void> {
    if (this.detached) return Promise.reject(new Error('LineReader detached while waiting for data'));
    if (this.eof) return Promise.resolve();
    if (this.beforeWait !== null) {
      // The caller looks at the buffer again after a hook that had to wait itself.
      const waited = this.beforeWait(frameLeft);
      if (waited) return waited;
    }
    if (this.pausedByUs) {
      this.pausedByUs = false;
      this.src.resume();
    }
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Offset of the first LF within the first `limit` live bytes, or -1. */
  private findLF(limit: number): number {
    if (this.scanned === 0) {
      this.scanIdx = this.head;
      this.scanOff = this.headOff;
    }
    while (this.scanned < limit && this.scanIdx < this.chunks.length) {
      const c = this.chunks[this.scanIdx]!;
      const end = Math.min(c.length, this.scanOff + (limit - this.scanned));
      const p = c.indexOf(LF, this.scanOff);
      if (p >= 0 && p < end) return this.scanned + (p - this.scanOff);
      this.scanned += end - this.scanOff;
      if (end === c.length) {
        this.scanIdx++;
        this.scanOff = 0;
      } else {
        this.scanOff = end;
      }
    }
    return -1;
  }

  /** Remove and return exactly n live bytes (n <= size). */
  private consume(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[this.head]!;
    if (this.headOff + n <= first.length) return this.consumeSome(n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const part = this.consumeSome(n - filled);
      part.copy(out, filled);
      filled += part.length;
    }
    return out;
  }

  /** Remove and return up to n live bytes from the first chunk (zero-copy). */
  private consumeSome(n: number): Buffer {
    const c = this.chunks[this.head]!;
    const take = Math.min(n, c.length - this.headOff);
    const out = this.headOff === 0 && take === c.length ? c : c.subarray(this.headOff, this.headOff + take);
    this.advance(c, take);
    return out;
  }

  /** Drop `take` live bytes of the first chunk `c` (no more than it holds). */
  private advance(c: Buffer, take: number): void {
    this.headOff += take;
    this.size -= take;
    if (this.headOff === c.length) {
      this.head++;
      this.headOff = 0;
      if (this.head === this.chunks.length) {
        this.chunks.length = 0;
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
    }
    this.scanned = 0;
  }

  /** csync2 dumps received payload in the 512-byte pieces it reads. */
  private dumpChunks(buf: Buffer): void {
    if (!this.tap) return;
    for (let off = 0; off < buf.length; off += FRAME_CHUNK) {
      this.tap('Peer', buf.subarray(off, Math.min(buf.length, off + FRAME_CHUNK)));
    }
  }
}
