/**
 * Writing side of a csync2 connection: lines, raw bytes and framed payloads,
 * awaiting 'drain' when the socket buffer is full so big payloads never pile up
 * in memory.
 *
 * Like csync2, a failed line write is not an error by itself (the following
 * read sees end of file); frame writes on a dead connection throw ProtocolError
 * `Write-error while sending data.`.
 */
import { read as fsRead } from 'node:fs';
import type { Writable } from 'node:stream';
import type { BStr } from '../util/bytes.js';
import { ProtocolError } from '../util/errors.js';
import { FRAME_CHUNK } from './limits.js';
import { FRAME_ERROR, frameHeader } from './frame.js';
import type { WireTap } from './wiredump.js';

export const WRITE_ERROR = 'Write-error while sending data.';
export const SEND_READ_ERROR = 'Read-error while sending data.';

export interface LineWriterOptions {
  /** Receives `Local>` dumps (-vvv); null/absent = no dumps. */
  tap?: WireTap | null;
}

/** Frames up to this size go out as one write together with their header. */
const SMALL_FRAME = 64 * 1024;
/** Read size when streaming a file into a frame. */
const FILE_CHUNK = 256 * 1024;

/** Held output beyond this size asks its owner for an early flush (onHoldFull). */
const HOLD_MAX = 256 * 1024;
/** holdPerTurn(): pieces at least this big are not held. */
const PER_TURN_DIRECT = 16 * 1024;

/** A place in the held output for a reply not known yet (reserve(), fill()). */
export interface ReplySlot {
  data: Uint8Array | null;
}

export class LineWriter {
  private failure: Error | null = null;
  /** hold(): output collected here until flushHeld(); reserved slots keep what follows them back. */
  private held: (Uint8Array | ReplySlot)[] | null = null;
  private heldBytes = 0;
  private unfilled = 0;
  /** Called when held output passes HOLD_MAX; the owner may flushHeld() (or keep holding). */
  onHoldFull: (() => void) | null = null;
  private corked = 0;
  private readonly tap: WireTap | null;
  private readonly onError = (err: Error): void => {
    this.failure ??= err;
  };
  private readonly onClose = (): void => {
    this.failure ??= new Error('connection closed');
  };

  constructor(private readonly dst: Writable, opts: LineWriterOptions = {}) {
    this.tap = opts.tap ?? null;
    dst.on('error', this.onError);
    dst.on('close', this.onClose);
  }

  /** Why the connection can no longer be written to, or null while it can. */
  get failed(): Error | null {
    if (!this.failure && (this.dst.destroyed || this.dst.writableEnded)) this.failure = new Error('connection closed');
    return this.failure;
  }

  /** Send `text` followed by LF. */
  sendLine(text: BStr): Promise<void> {
    return this.sendText(text + '\n');
  }

  /** Send text exactly as given (several lines in one write, as csync2 does for some replies). */
  sendText(text: BStr): Promise<void> {
    return this.sendRaw(Buffer.from(text, 'latin1'));
  }

  /** Send bytes exactly as given; resolves once the socket accepted them (awaits 'drain' if needed). */
  async sendRaw(buf: Uint8Array): Promise<void> {
    if (this.failed || buf.length === 0) return;
    this.tap?.('Local', buf);
    if (!this.put(buf)) await this.drain();
  }

  /**
   * Hold all output back until flushHeld() (the daemon sends a burst of replies
   * together, after the database commit that they acknowledge).
   */
  hold(): void {
    this.held ??= [];
  }

  /**
   * Reserve the place of a reply that is decided later (the daemon answers a
   * command whose work is still running while it reads the next ones): what is
   * written after it stays held until fill(). Needs hold().
   */
  reserve(): ReplySlot {
    if (this.held === null) throw new Error('LineWriter.reserve() without hold()');
    const slot: ReplySlot = { data: null };
    this.held.push(slot);
    this.unfilled++;
    return slot;
  }

  /** The reserved reply is `text` (a line), or nothing for null; it leaves with the next flushHeld(). */
  fill(slot: ReplySlot, text: BStr | null): void {
    if (slot.data !== null) return;
    const buf = text === null ? Buffer.alloc(0) : Buffer.from(text + '\n', 'latin1');
    if (buf.length > 0) this.tap?.('Local', buf);
    slot.data = buf;
    this.unfilled--;
    this.heldBytes += buf.length;
  }

  /** Output is held back (hold() and not flushed yet). */
  get holdsOutput(): boolean {
    return this.held !== null && this.held.length > 0;
  }

  /** Write what hold() collected, in one write, up to the first reply slot not filled yet; holding goes on. */
  flushHeld(): void {
    const h = this.held;
    if (h === null || h.length === 0) return;
    let n = h.length;
    if (this.unfilled > 0) {
      n = h.findIndex((x) => !(x instanceof Uint8Array) && x.data === null);
      if (n === 0) return;
    }
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const x = h[i]!;
      out.push(x instanceof Uint8Array ? x : x.data!);
    }
    this.held = n === h.length ? [] : h.slice(n);
    this.heldBytes = 0;
    for (const x of this.held) this.heldBytes += x instanceof Uint8Array ? x.length : (x.data?.length ?? 0);
    if (this.failed) return;
    this.dst.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** Stop holding (what is held is written; a slot never filled is left out). */
  unhold(): void {
    if (this.held !== null && this.unfilled > 0) {
      this.held = this.held.filter((x) => x instanceof Uint8Array || x.data !== null);
      this.unfilled = 0;
    }
    this.flushHeld();
    this.held = null;
    this.perTurn = false;
  }

  /**
   * Hold output until the end of this turn of the event loop: the lines that many
   * pipelined commands write in one turn leave as one write (one TLS record) instead of
   * one each. Big pieces flush what is held and go out directly.
   */
  holdPerTurn(): void {
    this.hold();
    this.perTurn = true;
  }

  private perTurn = false;
  private flushScheduled = false;
  private readonly flushTurn = (): void => {
    this.flushScheduled = false;
    this.flushHeld();
  };

  /**
   * Hand bytes to the socket (or to the held output); false = wait for 'drain'.
   * `reused`: the caller will overwrite the buffer, so held output keeps a copy.
   */
  private put(buf: Uint8Array, reused = false): boolean {
    const h = this.held;
    if (h === null) return this.dst.write(buf);
    if (this.perTurn && this.unfilled === 0) {
      if (buf.length >= PER_TURN_DIRECT) {
        this.flushHeld();
        return this.dst.write(buf);
      }
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushTurn);
      }
    }
    h.push(reused ? Buffer.from(buf) : buf);
    this.heldBytes += buf.length;
    if (this.heldBytes > HOLD_MAX) {
      if (this.perTurn) this.flushHeld();
      else this.onHoldFull?.();
    }
    return !this.dst.writableNeedDrain;
  }

  /** One frame: `octet-stream <n>\n` and the payload. */
  async sendFrame(payload: Uint8Array): Promise<void> {
    this.mustBeWritable();
    const head = Buffer.from(frameHeader(payload.length), 'latin1');
    if (this.tap) {
      this.tap('Local', head);
      this.dumpChunks(payload);
    }
    let ok: boolean;
    if (payload.length <= SMALL_FRAME) {
      ok = this.put(payload.length === 0 ? head : Buffer.concat([head, payload]));
    } else {
      this.put(head);
      ok = this.put(payload);
    }
    if (!ok) await this.drain();
    this.mustBeWritable();
  }

  /** `octet-stream -1`: the sender has no data (csync2 then desynchronises - quirk). */
  sendFrameError(): Promise<void> {
    return this.sendLine(frameHeader(FRAME_ERROR).slice(0, -1));
  }

  /**
   * A frame whose payload comes from an (async) iterable with a known total
   * size, written with backpressure. A source that yields fewer or more bytes
   * than `size` is ProtocolError `Read-error while sending data.`.
   */
  async sendFrameFrom(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number, borrowed = false): Promise<void> {
    this.mustBeWritable();
    await this.sendHeader(size);
    let sent = 0;
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      sent += chunk.length;
      if (sent > size) throw new ProtocolError(SEND_READ_ERROR, undefined, undefined, `source yields more than ${size} bytes`);
      await this.writeChunk(chunk, borrowed);
    }
    if (sent < size) throw new ProtocolError(SEND_READ_ERROR, undefined, undefined, `source ended after ${sent} of ${size} bytes`);
  }

  /** A frame with `size` bytes read from an open file descriptor (from its current position). */
  async sendFrameFromFile(fd: number, size: number): Promise<void> {
    await this.sendFrameFrom(readFd(fd, size), size);
  }

  /** Hold small writes back and send them together (until uncork()). */
  cork(): void {
    this.corked++;
    this.dst.cork();
  }

  uncork(): void {
    if (this.corked === 0) return;
    this.corked--;
    this.dst.uncork();
  }

  /** Finish the write side (half-close); resolves when flushed. */
  end(): Promise<void> {
    this.unhold();
    while (this.corked > 0) this.uncork();
    if (this.failed) return Promise.resolve();
    return new Promise((resolve) => {
      this.dst.end(() => resolve());
      this.dst.once('error', () => resolve());
    });
  }

  /** Stop watching the stream (before it is handed to TLS). */
  detach(): void {
    this.unhold();
    while (this.corked > 0) this.uncork();
    this.dst.off('error', this.onError);
    this.dst.off('close', this.onClose);
  }

  // --- internals ---

  private async sendHeader(size: number): Promise<void> {
    const head = Buffer.from(frameHeader(size), 'latin1');
    this.tap?.('Local', head);
    if (!this.put(head)) await this.drain();
  }

  /**
   * `borrowed`: the source reuses the chunk's buffer once it takes the next one, so
   * the socket is done with it before this returns (a copy per chunk made each
   * 1 MiB of a big file another 1 MiB of garbage: ~100 MB until the GC ran).
   */
  private async writeChunk(chunk: Uint8Array, borrowed = false): Promise<void> {
    this.mustBeWritable();
    this.dumpChunks(chunk);
    if (borrowed && (this.held === null || (this.perTurn && this.unfilled === 0))) {
      this.flushHeld(); // what a turn held goes first, as put() does for big pieces
      await new Promise<void>((resolve) => {
        this.dst.write(chunk, () => resolve());
      });
    } else if (!this.put(chunk, true)) {
      // Output held back keeps a copy (put's `reused`).
      await this.drain();
    }
    this.mustBeWritable();
  }

  private mustBeWritable(): void {
    const f = this.failed;
    if (f) throw new ProtocolError(WRITE_ERROR, undefined, undefined, f.message);
  }

  /** Wait for 'drain' (or for the stream to fail). Corked data must flow first. */
  private drain(): Promise<void> {
    while (this.corked > 0) this.uncork();
    if (this.failed || !this.dst.writableNeedDrain) return Promise.resolve();
    // One set of listeners however many writers wait (a pipelined client has many).
    this.draining ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.dst.off('drain', done);
        this.dst.off('error', done);
        this.dst.off('close', done);
        this.draining = null;
        resolve();
      };
      this.dst.on('drain', done);
      this.dst.on('error', done);
      this.dst.on('close', done);
    });
    return this.draining;
  }

  private draining: Promise<void> | null = null;

  /** csync2 writes (and dumps) payload in 512-byte pieces. */
  private dumpChunks(buf: Uint8Array): void {
    if (!this.tap) return;
    for (let off = 0; off < buf.length; off += FRAME_CHUNK) {
      this.tap('Local', buf.subarray(off, Math.min(buf.length, off + FRAME_CHUNK)));
    }
  }
}

/** `size` bytes from fd in large reads; stops early at end of file. */
async function* readFd(fd: number, size: number): AsyncGenerator<Buffer, void, undefined> {
  let left = size;
  while (left > 0) {
    const buf = Buffer.allocUnsafe(Math.min(FILE_CHUNK, left));
    const n = await new Promise<number>((resolve, reject) => {
      fsRead(fd, buf, 0, buf.length, null, (err, bytes) =>
        err ? reject(new ProtocolError(SEND_READ_ERROR, undefined, undefined, err.message)) : resolve(bytes));
    });
    if (n === 0) return;
    left -= n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
}
