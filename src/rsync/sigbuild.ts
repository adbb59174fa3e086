/**
 * Signature generation, streamed: the file goes through in chunks of any size and
 * only a partial block is kept between them. Output is the librsync signature
 * format (spec librsync-format.md §3), byte-identical to rs_sig_file/rdiff.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { MAX_STRONG_LEN } from './format.js';
import { READ_CHUNK, readHandleChunks } from './fileio.js';
import { md4Pair, md4RollsumPair, pairWeak } from './md4.js';
import { MD4_FAST_MAX, signatureEntriesFast } from './md4wasm.js';
import { resolveSigParams, type SigOptions, type SigParams } from './sigparams.js';
import { strongSum } from './strong.js';
import { rabinkarpBlock, rollsumBlock } from './weaksum.js';

export class SignatureBuilder {
  readonly params: SigParams;
  private readonly entryLen: number;
  private readonly fullStrong: boolean;
  /** The partial block carried to the next chunk; grows up to blockLen only when needed. */
  private pending: Uint8Array;
  private pendingLen = 0;
  private readonly digest = new Uint8Array(64);

  constructor(params: SigParams) {
    this.params = params;
    this.entryLen = 4 + params.strongLen;
    this.fullStrong = params.strongLen === MAX_STRONG_LEN[params.hash];
    this.pending = new Uint8Array(Math.min(params.blockLen, 1 << 20));
  }

  /** The 12-byte header: magic, block length, strong-sum length. */
  header(): Buffer {
    const out = Buffer.allocUnsafe(12);
    out.writeUInt32BE(this.params.magic >>> 0, 0);
    out.writeUInt32BE(this.params.blockLen, 4);
    out.writeUInt32BE(this.params.strongLen, 8);
    return out;
  }

  /** Consumes a chunk; returns the entries of the blocks it completed (maybe empty). */
  update(chunk: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(this.entriesFor(chunk.length));
    this.updateInto(chunk, out, 0);
    return out;
  }

  /** Bytes of entries the next update() with a chunk of this length will produce. */
  entriesFor(chunkLength: number): number {
    return Math.floor((this.pendingLen + chunkLength) / this.params.blockLen) * this.entryLen;
  }

  /** update() writing the entries into out at outOff (room for entriesFor() bytes); returns their length. */
  updateInto(chunk: Uint8Array, out: Uint8Array, outOff: number): number {
    const blockLen = this.params.blockLen;
    let off = 0;
    let fromPending = 0;
    if (this.pendingLen > 0) {
      const take = Math.min(blockLen - this.pendingLen, chunk.length);
      this.appendPending(chunk, 0, take);
      off = take;
      if (this.pendingLen === blockLen) fromPending = 1;
    }
    const direct = Math.floor((chunk.length - off) / blockLen);
    if (fromPending) {
      this.hashBlocks(this.pending, 0, 1, blockLen, out, outOff);
      this.pendingLen = 0;
    }
    this.hashBlocks(chunk, off, direct, blockLen, out, outOff + fromPending * this.entryLen);
    off += direct * blockLen;
    if (off < chunk.length) this.appendPending(chunk, off, chunk.length - off);
    return (fromPending + direct) * this.entryLen;
  }

  /** The entry of the last, short block if there is one. Call once, at the end of input. */
  final(): Buffer {
    const out = Buffer.allocUnsafe(this.pendingLen > 0 ? this.entryLen : 0);
    if (this.pendingLen > 0) this.hashBlocks(this.pending, 0, 1, this.pendingLen, out, 0);
    this.pendingLen = 0;
    return out;
  }

  private appendPending(src: Uint8Array, off: number, len: number): void {
    const need = this.pendingLen + len;
    if (need > this.pending.length) {
      const grown = new Uint8Array(Math.min(this.params.blockLen, Math.max(need, this.pending.length * 2)));
      grown.set(this.pending.subarray(0, this.pendingLen));
      this.pending = grown;
    }
    this.pending.set(src.subarray(off, off + len), this.pendingLen);
    this.pendingLen = need;
  }

  /** Writes the entries of `count` consecutive blocks of `len` bytes at src[off..] into out. */
  private hashBlocks(src: Uint8Array, off: number, count: number, len: number, out: Uint8Array, outOff: number): void {
    const { hash, weak, strongLen } = this.params;
    const entryLen = this.entryLen;
    const digest = this.digest;
    let i = 0;
    if (hash === 'md4' && weak === 'rollsum' && this.fullStrong && len <= MD4_FAST_MAX) {
      signatureEntriesFast(src, off, count, len, out, outOff);
      return;
    }
    if (hash === 'md4') {
      // Pairs of blocks share one interleaved MD4 run (with the rollsum folded in).
      const fused = weak === 'rollsum';
      const full = this.fullStrong;
      for (; i + 1 < count; i += 2) {
        const a = off + i * len, o = outOff + i * entryLen;
        const dst = full ? out : digest, da = full ? o + 4 : 0, db = full ? o + entryLen + 4 : 16;
        if (fused) {
          md4RollsumPair(src, a, a + len, len, dst, da, db);
          writeU32(out, o, pairWeak[0]);
          writeU32(out, o + entryLen, pairWeak[1]);
        } else {
          md4Pair(src, a, a + len, len, dst, da, db);
          writeU32(out, o, rabinkarpBlock(src, a, len));
          writeU32(out, o + entryLen, rabinkarpBlock(src, a + len, len));
        }
        if (!full) {
          out.set(digest.subarray(0, strongLen), o + 4);
          out.set(digest.subarray(16, 16 + strongLen), o + entryLen + 4);
        }
      }
    }
    for (; i < count; i++) {
      const a = off + i * len, o = outOff + i * entryLen;
      writeU32(out, o, weak === 'rollsum' ? rollsumBlock(src, a, len) : rabinkarpBlock(src, a, len));
      if (this.fullStrong) {
        strongSum(hash, src, a, len, out, o + 4);
      } else {
        strongSum(hash, src, a, len, digest, 0);
        out.set(digest.subarray(0, strongLen), o + 4);
      }
    }
  }
}

function writeU32(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = (v >>> 16) & 0xff;
  out[off + 2] = (v >>> 8) & 0xff;
  out[off + 3] = v & 0xff;
}

/**
 * The signature of a stream, as it is computed: the header first, then the
 * entries of each chunk's complete blocks. The input's size is unknown here, so
 * blockLen 0 means 2048 and strongLen -1 means 12 (as librsync does).
 */
export async function* signatureStream(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts?: SigOptions): AsyncGenerator<Buffer> {
  const builder = new SignatureBuilder(resolveSigParams(opts, -1));
  yield builder.header();
  for await (const chunk of input) {
    const entries = builder.update(chunk);
    if (entries.length > 0) yield entries;
  }
  const last = builder.final();
  if (last.length > 0) yield last;
}

/**
 * Files up to this size are read with blocking reads: the daemon answers a burst of
 * SIGs for changed files, and five thread-pool round trips per small file (open,
 * stat, read, read, close) left it idle most of the time (a few ms of page-cache
 * copying at most).
 */
const SYNC_READ_MAX = 1 << 20;

/** The size of signatureOfFile()'s signature of a file of `fileSize` bytes (a 12-byte header, one entry per block). */
export function signatureSizeOf(fileSize: number, opts?: SigOptions): number {
  const { blockLen, strongLen } = resolveSigParams(opts, fileSize);
  return 12 + Math.ceil(fileSize / blockLen) * (4 + strongLen);
}

/**
 * The whole signature of a file (about 20 bytes per 2 KiB block: small enough to
 * return in one Buffer); a big file is streamed. blockLen 0 and strongLen -1
 * use the file's size like rdiff.
 */
export async function signatureOfFile(path: string | Buffer, opts?: SigOptions): Promise<Buffer> {
  // O_NONBLOCK: a file replaced by a FIFO since its lstat() fails instead of hanging.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let size: number;
  try {
    size = fstatSync(fd).size;
    if (size <= SYNC_READ_MAX) return buildSignature(size, opts, readFdSync(fd, size));
  } finally {
    closeSync(fd);
  }
  const fh = await open(path, 'r');
  try {
    const now = (await fh.stat()).size;
    return await buildSignature(now, opts, readHandleChunks(fh, chunkFor(now, opts)));
  } finally {
    await fh.close();
  }
}

/** The read size for a file of `size` bytes: whole blocks, and no more than the file (a small file gets a small buffer). */
function chunkFor(size: number, opts?: SigOptions): number {
  const { blockLen } = resolveSigParams(opts, size);
  const chunk = blockLen >= READ_CHUNK ? READ_CHUNK : Math.floor(READ_CHUNK / blockLen) * blockLen;
  return Math.min(chunk, Math.max(size, 1));
}

/** Files up to this size are read into a buffer of their own (heap memory, cheap). */
const OWN_BUFFER_MAX = 64 * 1024;
/** Bigger ones share this one (fresh memory costs a page fault per 4 KiB, see util/bufpool.ts). */
let sharedReadBuffer: Buffer | null = null;

/**
 * The file's content to its end, with blocking reads: the expected size at once, then
 * whatever it grew by. Only for a consumer that is done with every chunk before it
 * returns, without waiting for anything (buildSignature's synchronous form): up to
 * SYNC_READ_MAX, all calls share one buffer.
 */
function* readFdSync(fd: number, size: number): Generator<Uint8Array> {
  // One byte more than expected: the usual end of file shows in this buffer, not in a
  // fresh 1 MiB one allocated only to read nothing (that was most of a small file's cost).
  let buf = size + 1 <= OWN_BUFFER_MAX ? Buffer.allocUnsafe(size + 1)
    : (sharedReadBuffer ??= Buffer.allocUnsafeSlow(SYNC_READ_MAX + 1)).subarray(0, size + 1);
  for (;;) {
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > 0) yield buf.subarray(0, n);
    if (n < buf.length) return;
    buf = Buffer.allocUnsafe(READ_CHUNK);
  }
}

/** The signature of `chunks`, the content of a file of (about) `size` bytes, written in place while it keeps that size. */
function buildSignature(size: number, opts: SigOptions | undefined, chunks: Iterable<Uint8Array>): Buffer;
function buildSignature(size: number, opts: SigOptions | undefined, chunks: AsyncIterable<Uint8Array>): Promise<Buffer>;
function buildSignature(
  size: number, opts: SigOptions | undefined, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Buffer | Promise<Buffer> {
  const builder = new SignatureBuilder(resolveSigParams(opts, size));
  const { blockLen, strongLen } = builder.params;
  // Written in place when the file keeps its size (no second copy for Buffer.concat).
  const out = Buffer.allocUnsafe(12 + Math.ceil(size / blockLen) * (4 + strongLen));
  let length = 0;
  let parts: Buffer[] | null = null;
  const put = (piece: Buffer): void => {
    if (parts === null && length + piece.length <= out.length) {
      piece.copy(out, length);
      length += piece.length;
      return;
    }
    parts ??= [out.subarray(0, length)];
    parts.push(piece);
  };
  const add = (data: Uint8Array): void => {
    if (parts === null && length + builder.entriesFor(data.length) <= out.length) {
      length += builder.updateInto(data, out, length);
    } else {
      put(builder.update(data));
    }
  };
  const end = (): Buffer => {
    put(builder.final());
    return parts === null ? out.subarray(0, length) : Buffer.concat(parts);
  };
  put(builder.header());
  if (Symbol.iterator in chunks) {
    for (const data of chunks) add(data);
    return end();
  }
  return (async () => {
    for await (const data of chunks) add(data);
    return end();
  })();
}
