/**
 * The client's two librsync exchanges (rsync.c): csync_rs_check (read the
 * peer's signature after SIG and compare it with the local file's) and
 * csync_rs_delta (read the peer's signature after PATCH and send the delta),
 * with csync2's debug lines.
 *
 * Costs are kept to what the answer needs: the local signature is only
 * computed when its size (known from the file size) matches the peer's, or
 * when -vv wants to show where they differ; a big file against a missing one
 * goes out as one literal read straight from the file; other deltas are
 * spooled in memory, or in an unlinked temporary file once they grow large.
 */
import { closeSync, fstatSync, openSync, statSync, read as fsRead, readSync, unlinkSync, constants as FS } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/model.js';
import { prefixSubst } from '../config/prefix.js';
import type { PeerLink } from '../net/client.js';
import { FRAME_ERROR, FORMAT_ERROR, parseFrameHeader } from '../protocol/frame.js';
import { FRAME_HEADER_MAX, FRAME_CHUNK } from '../protocol/limits.js';
import { SIZE_ONLY_HEADER } from '../protocol/replies.js';
// The modules themselves, not the index: a client never patches (patch.js stays unloaded).
import { DeltaEncoder } from '../rsync/delta.js';
import { SignatureBuilder, signatureSizeOf } from '../rsync/sigbuild.js';
import { parseSignature, type Signature } from '../rsync/sigload.js';
import { resolveSigParams } from '../rsync/sigparams.js';
import { DELTA_MAGIC } from '../rsync/format.js';
import { sharesAlignedBlock } from '../rsync/probe.js';
import { inPlaceDelta, planInPlace } from '../rsync/inplace.js';
import { fsPath, type BStr } from '../util/bytes.js';
import { FatalError, ProtocolError, strerror } from '../util/errors.js';
import { log } from '../util/log.js';
import { giveBuffer, takeBuffer } from '../util/bufpool.js';
import { writeFully } from '../util/fdwrite.js';
import type { UpdateOut } from './update-output.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** csync2's fixed signature parameters: MD4 strong sums of 16 bytes, 2048-byte blocks. */
const SIG_BLOCK = 2048;
/** Files up to this size are read synchronously (one read, no thread-pool hops). */
const SYNC_READ_MAX = 256 * 1024;
const READ_CHUNK = 1 << 20;
/** Deltas up to this size stay in memory; larger ones go to a temporary file. */
const MEMORY_SPOOL_MAX = 8 << 20;
/** A file at least this big, sent against a missing one, goes out as one literal straight from disk. */
const STREAM_LITERAL_MIN = 4 << 20;
/** A peer's signature up to this size is always held (the signature of a 6.7 GB file). */
const PEER_SIG_HOLD_MIN = 64 << 20;

/**
 * The largest peer signature held in memory against a local file of `localSize`
 * bytes. The frame header's size is the peer's word: a hostile or broken daemon
 * could otherwise make the client buffer without limit. A bigger signature is
 * read and dropped; the file then goes as literals, which any basis accepts and
 * which cost no more than the local file (the peer's is over twice as big then).
 */
export function peerSignatureCap(localSize: number): number {
  return Math.max(PEER_SIG_HOLD_MIN, 2 * signatureSizeOf(localSize) + (1 << 20));
}

/** Read `size` payload bytes and keep none of them. */
async function drainPayload(link: PeerLink, size: number): Promise<void> {
  for await (const chunk of link.conn.reader.readFramePayload(size)) void chunk;
}

/** The frame header line (`octet-stream <n>`), fatal `Format-error while receiving data.` if absent. */
async function readHeader(link: PeerLink, allowErrorWord: boolean): Promise<number> {
  const line = await link.conn.reader.readLine(FRAME_HEADER_MAX);
  if (line === null) throw new ProtocolError(FORMAT_ERROR, link.peer, undefined, 'end of file instead of a frame header');
  return parseFrameHeader(line, allowErrorWord);
}

/** A frame header, or (after SIGT) `octet-size <n>`: a signature's size without its bytes. */
async function readSizedHeader(link: PeerLink, sizeOnlyAllowed: boolean): Promise<{ size: number; sizeOnly: boolean }> {
  if (!sizeOnlyAllowed) return { size: await readHeader(link, false), sizeOnly: false };
  const line = await link.conn.reader.readLine(FRAME_HEADER_MAX);
  if (line === null) throw new ProtocolError(FORMAT_ERROR, link.peer, undefined, 'end of file instead of a frame header');
  if (line.startsWith(SIZE_ONLY_HEADER)) {
    const m = /^ ([0-9]{1,15})$/.exec(line.slice(SIZE_ONLY_HEADER.length));
    if (m) return { size: Number(m[1]), sizeOnly: true };
    throw new ProtocolError(FORMAT_ERROR, link.peer, undefined, `bad size line ${JSON.stringify(line)}`);
  }
  return { size: parseFrameHeader(line, false), sizeOnly: false };
}

/** The local signature source: absent file, an open regular file, or an I/O error text. */
type LocalSig = { kind: 'absent' } | { kind: 'file'; fd: number; size: number } | { kind: 'error'; why: string };

function openLocal(path: BStr): LocalSig {
  let fd: number;
  try {
    fd = openSync(fsPath(path), FS.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'error', why: strerror(err) };
  }
  try {
    const st = fstatSync(fd);
    // fopen() works on a directory; csync2 then fails with whatever errno was left: 0.
    if ((st.mode & S_IFMT) !== S_IFREG) {
      closeSync(fd);
      return { kind: 'error', why: 'Success' };
    }
    return { kind: 'file', fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    return { kind: 'error', why: strerror(err) };
  }
}

/** The signature of an open file (read from offset 0), in csync2's format; `stop` ends it early (rejects). */
async function signatureOfFd(fd: number, size: number, stop?: AbortSignal): Promise<Buffer> {
  const builder = new SignatureBuilder(resolveSigParams({ blockLen: SIG_BLOCK }, size));
  const parts: Buffer[] = [builder.header()];
  if (size <= SYNC_READ_MAX) {
    const buf = Buffer.allocUnsafe(Math.max(size, 1));
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n <= 0) break;
      got += n;
      if (got === buf.length) break;
    }
    parts.push(builder.update(buf.subarray(0, got)));
  } else {
    // Made in place (its size follows from the file's): parts joined at the end held it twice.
    const out = new Filler(signatureSizeOf(size, { blockLen: SIG_BLOCK }));
    out.put(parts[0]!);
    for await (const chunk of readFdChunks(fd)) {
      stop?.throwIfAborted();
      out.put(builder.update(chunk));
    }
    out.put(builder.final());
    return out.take();
  }
  parts.push(builder.final());
  return Buffer.concat(parts);
}

/** Bytes copied into a buffer of the expected size, grown (doubled) if more come: a file that grew. */
class Filler {
  private buf: Buffer;
  private at = 0;

  constructor(expected: number) {
    this.buf = Buffer.allocUnsafe(expected);
  }

  put(part: Buffer): void {
    if (this.at + part.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + part.length));
      this.buf.copy(grown, 0, 0, this.at);
      this.buf = grown;
    }
    this.at += part.copy(this.buf, this.at);
  }

  take(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Read step of signatureMatches(): whole blocks. */
const MATCH_READ = 32 * SIG_BLOCK;
/** Its read buffer: used by synchronous code only, so one serves every file. */
let matchBuf: Buffer | null = null;

/**
 * Is csync2's signature of the open file (read from offset 0) exactly `peerSig`? The
 * signature is made and compared a read at a time, up to the first difference: a file
 * changed in place differs early, without hashing the rest. Synchronous (small files).
 */
function signatureMatches(fd: number, peerSig: Buffer): boolean {
  const builder = new SignatureBuilder(resolveSigParams({ blockLen: SIG_BLOCK }));
  let at = 0;
  const same = (part: Buffer): boolean => {
    const end = at + part.length;
    if (end > peerSig.length || part.compare(peerSig, at, end) !== 0) return false;
    at = end;
    return true;
  };
  if (!same(builder.header())) return false;
  const buf = (matchBuf ??= Buffer.allocUnsafe(MATCH_READ));
  for (let pos = 0; ;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n <= 0) break;
    pos += n;
    if (!same(builder.update(buf.subarray(0, n)))) return false;
  }
  return same(builder.final()) && at === peerSig.length;
}

/** The file from offset 0 in 1 MiB positional reads; a yielded chunk is valid until the next one. */
async function* readFdChunks(fd: number): AsyncGenerator<Buffer> {
  let pos = 0;
  // No read is running when the consumer moves on, so the buffer can serve the next file.
  const buf = takeBuffer(READ_CHUNK);
  try {
    for (;;) {
      const n = await new Promise<number>((resolve, reject) => {
        fsRead(fd, buf, 0, buf.length, pos, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
      });
      if (n <= 0) return;
      pos += n;
      yield buf.subarray(0, n);
    }
  } finally {
    giveBuffer(buf);
  }
}

/**
 * csync_rs_check after the checktxt line of a SIG reply: 1 = differs, 0 =
 * same, -1 = error (logged; the caller treats the file as failed). `keep`
 * receives the peer's signature (null when it was read piecewise for -vvv).
 * `decided`: the caller already knows the file differs and wants no -vv lines,
 * so no local signature is made (a big changed file is not read for nothing).
 */
export async function rsCheck(link: PeerLink, out: UpdateOut, cfg: Config, file: BStr, isReg: boolean,
  keep?: { peerSig: Buffer | null; mySig?: Buffer | null; dropped?: boolean }, early?: Promise<EarlySignature | null> | null, sizeOnly = false,
  decided = false): Promise<number> {
  out.debug(3, `Csync2 / Librsync: csync_rs_check('${file}', ${isReg ? 1 : 0} [${isReg ? 'regular file' : 'non-regular file'}])`);
  out.debug(3, 'Reading signature size from peer....');
  // After SIGT (sizeOnly, for a non-regular local entry only) a signature may come as its size alone.
  const header = await readSizedHeader(link, sizeOnly && !isReg);
  const size = header.size;
  const payload = !header.sizeOnly;
  if (size === FRAME_ERROR) {
    out.debug(0, `I/O Error 'Input/output error' in rsync-check: ${prefixSubst(cfg, file)}`);
    return -1;
  }
  out.debug(3, `Receiving ${size} bytes ..`);

  let local: LocalSig = { kind: 'absent' };
  let peerSig: Buffer | null = null;
  let mySig: Buffer | null = null;
  let mySize = 0;
  let diff = false;
  try {
    if (isReg) {
      out.debug(3, `Opening basis_file and sig_file for ${file}`);
      local = openLocal(prefixSubst(cfg, file));
      if (local.kind === 'absent') {
        out.debug(3, 'Basis file does not exist.');
      } else if (local.kind === 'error') {
        out.debug(0, `I/O Error '${local.why}' in rsync-check: ${prefixSubst(cfg, file)}`);
        if (payload) await drainPayload(link, size);
        return -1;
      } else {
        out.debug(3, 'Running rs_sig_file() from librsync....');
        mySize = signatureSizeOf(local.size); // csync2's signature: what the daemon's signatureOfFile() makes
        // Only a signature of the same size can be equal; -vv shows where they differ.
        if (decided) {
          // The caller knows the answer (the checktxt differs, and not -vv): no signature to make.
        } else if (mySize === size && !log.enabled(2) && local.size < EARLY_SIGNATURE_MIN) {
          // Only the answer is wanted: compare as the signature is made, up to the first difference.
          peerSig = size > 0 ? await link.conn.reader.readExact(size) : Buffer.alloc(0);
          diff = !signatureMatches(local.fd, peerSig);
        } else if (mySize === size || (log.enabled(2) && size > 0)) {
          const ready = early ? await early : null;
          mySig = ready !== null && ready.fileSize === local.size ? ready.sig : await signatureOfFd(local.fd, local.size);
          mySize = mySig.length;
        }
      }
    }
  } finally {
    if (local.kind === 'file') closeSync(local.fd);
  }

  if (size !== mySize) {
    out.debug(2, `Signature size differs: local=${mySize}, peer=${size}`);
    diff = true;
  }
  // At -vvv each 512-byte read is dumped before its messages, as csync2 reads them.
  const perChunk = log.enabled(3);
  let dropped = false;
  if (peerSig === null && size > 0 && !perChunk && payload) {
    const cap = peerSignatureCap(local.kind === 'file' ? local.size : 0);
    if (keep === undefined && mySig === null) {
      // Neither compared nor wanted afterwards: read past it.
      await drainPayload(link, size);
      dropped = true;
    } else if (size > cap) {
      out.debug(2, `Peer's signature of ${size} bytes is more than ${cap}: not kept.`);
      await drainPayload(link, size);
      dropped = true;
      diff = true;
      if (keep) keep.dropped = true;
    } else {
      peerSig = await link.conn.reader.readExact(size);
    }
  }
  if (payload && !dropped && (mySig !== null || perChunk)) {
    // csync2 compares in 512-byte reads; a read past the end of its own signature keeps the old buffer.
    const stale = Buffer.alloc(FRAME_CHUNK);
    for (let off = 0, left = size; left > 0;) {
      const chunk = Math.min(FRAME_CHUNK, left);
      const got = peerSig ? peerSig.subarray(off, off + chunk) : await link.conn.reader.readExact(chunk);
      if (mySig !== null) {
        const avail = Math.max(0, Math.min(chunk, mySig.length - off));
        if (avail < chunk) {
          out.debug(2, 'Found EOF in local sig file.');
          diff = true;
        }
        if (avail > 0) mySig.copy(stale, 0, off, off + avail);
        if (Buffer.compare(got, stale.subarray(0, chunk)) !== 0) {
          out.debug(2, `Found diff in sig at -${left}:-${left - chunk}`);
          diff = true;
        }
      }
      off += chunk;
      left -= chunk;
      out.debug(3, `Got ${chunk} bytes, ${left} bytes left ..`);
    }
  }
  out.debug(3, `File has been checked successfully (${diff ? 'difference found' : 'files are equal'}).`);
  if (keep) {
    keep.peerSig = peerSig;
    keep.mySig = mySig;
  }
  return diff ? 1 : 0;
}

/** A local signature made while the peer's was on its way. */
export interface EarlySignature {
  sig: Buffer;
  /** The file's size when it was made. */
  fileSize: number;
}

/** Files at least this big get their signature made while the SIG is in flight. */
export const EARLY_SIGNATURE_MIN = 1 << 20;
/** Early signatures made at once at most (each reads with a 1 MiB buffer); rsCheck makes the others if needed. */
const EARLY_SIGNATURES_AT_ONCE = 2;
let earlyRunning = 0;

/**
 * The local file's signature, started when its SIG is sent: the peer computes
 * its own meanwhile, so for a big file the two no longer take turns. Null when
 * the file cannot be read (rsCheck then finds out itself) or when `stop` fired
 * first (the peer has no such file: nothing to compare, and a big new file
 * would otherwise be read once more, for nothing, while it is being sent).
 */
export async function earlySignature(cfg: Config, file: BStr, stop?: AbortSignal): Promise<EarlySignature | null> {
  // A window of new files would start one each, for nothing (their peers have none).
  if (earlyRunning >= EARLY_SIGNATURES_AT_ONCE) return null;
  const local = openLocal(prefixSubst(cfg, file));
  if (local.kind !== 'file') return null;
  earlyRunning++;
  try {
    return { sig: await signatureOfFd(local.fd, local.size, stop), fileSize: local.size };
  } catch {
    return null;
  } finally {
    earlyRunning--;
    closeSync(local.fd);
  }
}

/** What rsDelta sent, for statistics (bytes of the delta frame payload). */
export interface DeltaResult {
  ok: boolean;
  sent: number;
}

/**
 * csync_rs_delta after `OK (send_data).`: read the peer's signature and send
 * the delta of the local file (the caller holds the writer). On failure
 * csync2 leaves the peer waiting for data; here the peer gets `octet-stream -1`
 * and answers with an error line, so the session stays usable.
 */
export async function rsDelta(link: PeerLink, out: UpdateOut, cfg: Config, file: BStr, ahead: DeltaAhead | null = null): Promise<DeltaResult> {
  try {
    return await deltaAfterPatch(link, out, cfg, file, ahead);
  } finally {
    // Sent or not, whatever it still holds goes (a used spool is already disposed).
    ahead?.cancel();
  }
}

async function deltaAfterPatch(link: PeerLink, out: UpdateOut, cfg: Config, file: BStr, ahead: DeltaAhead | null): Promise<DeltaResult> {
  const reader = link.conn.reader;
  const writer = link.conn.writer;
  out.debug(3, `Csync2 / Librsync: csync_rs_delta('${file}')`);
  out.debug(3, 'Receiving sig_file from peer..');
  const size = await readHeader(link, true);
  if (size === FRAME_ERROR) {
    await writer.sendFrameError();
    return { ok: false, sent: 0 };
  }
  out.debug(3, `Receiving ${size} bytes ..`);
  if (size > PEER_SIG_HOLD_MIN) {
    // Checked only here: the local file's size is not needed below this.
    const cap = peerSignatureCap(localSizeOf(cfg, file));
    if (size > cap) {
      out.debug(2, `Peer's signature of ${size} bytes is more than ${cap}: sending literal data.`);
      await drainPayload(link, size);
      return sendLiteralDelta(link, out, cfg, file);
    }
  }
  let sigBytes: Buffer;
  if (log.enabled(3)) {
    const parts: Buffer[] = [];
    for (let left = size; left > 0;) {
      const chunk = Math.min(FRAME_CHUNK, left);
      parts.push(await reader.readExact(chunk));
      left -= chunk;
      out.debug(3, `Got ${chunk} bytes, ${left} bytes left ..`);
    }
    sigBytes = Buffer.concat(parts);
  } else {
    sigBytes = size > 0 ? await reader.readExact(size) : Buffer.alloc(0);
  }
  if (ahead !== null && ahead.sig.equals(sigBytes)) {
    const spool = await ahead.spool;
    if (spool !== null) return sendSpooled(link, spool);
  }
  ahead?.cancel();
  return sendDeltaAgainst(link, out, cfg, file, sigBytes);
}

/** A delta made ahead of PATCH's signature (deltaAhead()). */
export interface DeltaAhead {
  /** The signature it is made against. */
  sig: Buffer;
  /** The delta; null when it could not be made (rsDelta then makes it the usual way and reports why). */
  spool: Promise<Spool | null>;
  /** Not wanted: stop making it and free what it holds. */
  cancel(): void;
}

/**
 * The delta of the local file against `sig`, the signature the file's SIG brought,
 * made while PATCH's own signature is on its way: a csync2 daemon makes that one
 * anew, reading its whole file again. When it comes the same (the peer's file is
 * still that version), rsDelta sends this delta at once; a big changed file no
 * longer waits for the peer's second signature before its delta is begun. Silent:
 * any failure leaves the work to rsDelta.
 */
export function deltaAhead(cfg: Config, file: BStr, sig: Buffer, mySig?: Buffer | null): DeltaAhead {
  const stop = new AbortController();
  const make = async (): Promise<Spool | null> => {
    let parsed: Signature;
    let fd: number;
    try {
      parsed = parseSignature(sig);
      fd = openSync(fsPath(prefixSubst(cfg, file)), FS.O_RDONLY);
    } catch {
      return null;
    }
    try {
      const pieces = inPlacePieces(fd, fstatSync(fd).size, sig, mySig);
      return await spoolPieces(cfg, pieces ?? scanned(parsed, fd, stop.signal), stop.signal);
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  };
  const spool = make();
  return {
    sig,
    spool,
    cancel: () => {
      stop.abort();
      void spool.then((sp) => sp?.dispose());
    },
  };
}

/** The size of the local file (0 if it cannot be stat'ed: openDataFile reports that). */
function localSizeOf(cfg: Config, file: BStr): number {
  try {
    return statSync(fsPath(prefixSubst(cfg, file))).size;
  } catch {
    return 0;
  }
}

/**
 * The delta made from the two signatures (rsync/inplace.ts) when they allow it: the
 * local one (`mySig`, when the check made it) and the peer's, of files of one size,
 * differing in few blocks. Not at -vvv, whose wire dump shows librsync's own delta.
 */
function inPlacePieces(fd: number, fileSize: number, sigBytes: Buffer, mySig: Buffer | null | undefined): Generator<Buffer> | null {
  if (!mySig || log.enabled(3)) return null;
  const plan = planInPlace(mySig, sigBytes, fileSize);
  return plan === null ? null : inPlaceDelta(fd, plan);
}

/** The peer's signature parsed; one that librsync would reject is fatal, with csync2's message. */
function peerSignature(sigBytes: Buffer): Signature {
  try {
    return parseSignature(sigBytes);
  } catch (err) {
    throw new FatalError('Got an error from librsync, too bad!', (err as Error).message);
  }
}

/**
 * The delta of the local file against the peer's signature `sigBytes`, sent as
 * one frame (the caller holds the writer). PATCH gets the signature in its own
 * exchange; an XPATCH with a basis uses the one its SIG brought.
 */
export async function sendDeltaAgainst(link: PeerLink, out: UpdateOut, cfg: Config, file: BStr, sigBytes: Buffer,
  mySig?: Buffer | null): Promise<DeltaResult> {
  const writer = link.conn.writer;
  const sig = peerSignature(sigBytes);

  out.debug(3, 'Opening new_file and delta_file..');
  const data = await openDataFile(link, out, cfg, file);
  if (data === null) return { ok: false, sent: 0 };
  const { fd, size: fileSize } = data;
  try {
    const pieces = inPlacePieces(fd, fileSize, sigBytes, mySig);
    const inPlace = pieces === null ? null : await spoolPieces(cfg, pieces);
    if (inPlace !== null) return await sendSpooled(link, inPlace);
    out.debug(3, 'Running rs_build_hash_table() from librsync..');
    out.debug(3, 'Running rs_delta_file() from librsync..');
    if (sig.count === 0 && fileSize >= STREAM_LITERAL_MIN) {
      out.debug(3, 'Sending delta_file to peer..');
      const total = LITERAL_HEADER + fileSize + 1;
      await writer.sendFrameFrom(literalDelta(fd, fileSize), total, true);
      out.debug(3, 'Delta has been created successfully.');
      return { ok: true, sent: total };
    }
    let small: Buffer | null = null;
    if (fileSize <= SYNC_READ_MAX) {
      const buf = Buffer.allocUnsafe(Math.max(fileSize, 1));
      let got = 0;
      for (;;) {
        const n = readSync(fd, buf, got, buf.length - got, got);
        if (n <= 0 || (got += n) === buf.length) break;
      }
      small = buf.subarray(0, got);
      // No block where it was: literals without the scan (not at -vvv, whose wire dump shows librsync's delta).
      if (small.length > 0 && !log.enabled(3) && !sharesAlignedBlock(sig, small)) {
        const frame = literalFrame(small.length);
        frame.set(small, LITERAL_HEADER);
        out.debug(3, 'Sending delta_file to peer..');
        await writer.sendFrame(frame);
        out.debug(3, 'Delta has been created successfully.');
        return { ok: true, sent: frame.length };
      }
    }
    const spool = new Spool(cfg);
    try {
      const encoder = new DeltaEncoder(sig);
      if (small !== null) {
        spool.addAll(encoder.write(small));
      } else {
        for await (const chunk of readFdChunks(fd)) spool.addAll(encoder.write(chunk));
      }
      spool.addAll(encoder.end());
      out.debug(3, 'Sending delta_file to peer..');
      await spool.send(link);
      out.debug(3, 'Delta has been created successfully.');
      return { ok: true, sent: spool.size };
    } finally {
      spool.dispose();
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * sendDeltaAgainst() for XPATCHS: the delta leaves in chunks while it is made (a
 * run of frames ended by `octet-stream 0`, protocol/frame.ts FRAME_CHUNKED), so the
 * peer patches while we read on; a read error on the way ends it with `octet-stream -1`.
 */
export async function sendDeltaStreamed(link: PeerLink, out: UpdateOut, cfg: Config, file: BStr, sigBytes: Buffer,
  mySig?: Buffer | null): Promise<DeltaResult> {
  const sig = peerSignature(sigBytes);
  const data = await openDataFile(link, out, cfg, file);
  if (data === null) return { ok: false, sent: 0 };
  try {
    return await sendChunked(link, out, file, inPlacePieces(data.fd, data.size, sigBytes, mySig) ?? scanned(sig, data.fd));
  } finally {
    closeSync(data.fd);
  }
}

/**
 * The delta of the open file against `sig` by a scan: what each read (1 MiB) produced, as one
 * piece (streamed, mostly a few COPY commands, which keep the peer copying from its old file
 * while we scan on); `stop` ends it (throws).
 */
async function* scanned(sig: Signature, fd: number, stop?: AbortSignal): AsyncGenerator<Buffer> {
  const encoder = new DeltaEncoder(sig);
  const joined = (parts: Buffer[]): Buffer => (parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  for await (const chunk of readFdChunks(fd)) {
    stop?.throwIfAborted();
    yield joined(encoder.write(chunk));
  }
  yield joined(encoder.end());
}

/** A spooled delta as one frame; the spool is disposed either way. */
async function sendSpooled(link: PeerLink, spool: Spool): Promise<DeltaResult> {
  try {
    await spool.send(link);
    return { ok: true, sent: spool.size };
  } finally {
    spool.dispose();
  }
}

/** Delta pieces spooled, the event loop turning between them (each may have read 1 MiB); null if they failed. */
async function spoolPieces(cfg: Config, pieces: Iterable<Buffer> | AsyncIterable<Buffer>, stop?: AbortSignal): Promise<Spool | null> {
  const spool = new Spool(cfg);
  try {
    for await (const p of pieces) {
      stop?.throwIfAborted();
      spool.addAll([p]);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return spool;
  } catch {
    // Stopped, or the file changed under us (inplace.ts): the caller scans it as it is now.
    spool.dispose();
    return null;
  }
}

/** Delta pieces as a chunked run of frames; a read error on the way ends it with `octet-stream -1`. */
async function sendChunked(link: PeerLink, out: UpdateOut, file: BStr,
  pieces: Iterator<Buffer> | AsyncIterator<Buffer>): Promise<DeltaResult> {
  const writer = link.conn.writer;
  let sent = 0;
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = await pieces.next();
    } catch (err) {
      out.debug(0, `I/O Error '${strerror(err)}' while reading data file in rsync-delta: ${file}`);
      await writer.sendFrameError();
      return { ok: false, sent };
    }
    if (next.done) break;
    if (next.value.length > 0) await writer.sendFrame(next.value);
    sent += next.value.length;
  }
  await writer.sendFrame(Buffer.alloc(0));
  return { ok: true, sent };
}

/** The local file a delta is made of; null = it cannot be read (said, and `octet-stream -1` sent instead). */
async function openDataFile(link: PeerLink, out: UpdateOut, cfg: Config, file: BStr): Promise<{ fd: number; size: number } | null> {
  let fd = -1;
  try {
    fd = openSync(fsPath(prefixSubst(cfg, file)), FS.O_RDONLY);
    return { fd, size: fstatSync(fd).size };
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    out.debug(0, `I/O Error '${strerror(err)}' while opening data file for reading in rsync-delta: ${file}`);
    await link.conn.writer.sendFrameError();
    return null;
  }
}

/**
 * The delta of an XPATCH (replies.ts): the whole local file as literals, which
 * needs no signature of the peer's file. Written as one frame by the caller
 * holding the writer; an unreadable file sends `octet-stream -1` (the peer
 * then answers with an error line, as for PATCH).
 */
export async function sendLiteralDelta(link: PeerLink, out: UpdateOut, cfg: Config, file: BStr): Promise<DeltaResult> {
  const writer = link.conn.writer;
  out.debug(3, `Csync2 / Librsync: csync_rs_delta('${file}') without a signature (XPATCH)`);
  const data = await openDataFile(link, out, cfg, file);
  if (data === null) return { ok: false, sent: 0 };
  const { fd, size: fileSize } = data;
  try {
    if (fileSize > SYNC_READ_MAX) {
      const total = LITERAL_HEADER + fileSize + 1;
      await writer.sendFrameFrom(literalDelta(fd, fileSize), total, true);
      return { ok: true, sent: total };
    }
    if (fileSize === 0) {
      // An empty file: magic and END (librsync has no literal of length 0).
      const empty = Buffer.alloc(5);
      empty.writeUInt32BE(DELTA_MAGIC >>> 0, 0);
      await writer.sendFrame(empty);
      return { ok: true, sent: empty.length };
    }
    // Small: one buffer, magic + LITERAL_N8 + bytes + END (a file that changed size is cut or padded).
    const frame = literalFrame(fileSize);
    for (let got = 0; got < fileSize;) {
      const n = readSync(fd, frame, LITERAL_HEADER + got, fileSize - got, got);
      if (n <= 0) break;
      got += n;
    }
    await writer.sendFrame(frame);
    return { ok: true, sent: frame.length };
  } finally {
    closeSync(fd);
  }
}

/** Bytes before a whole-file literal's data: delta magic, LITERAL_N8 and its 8-byte length. */
const LITERAL_HEADER = 13;

/** Delta magic and LITERAL_N8 of `size` bytes, written at the start of `buf`. */
function writeLiteralHeader(buf: Buffer, size: number): Buffer {
  buf.writeUInt32BE(DELTA_MAGIC >>> 0, 0);
  buf[4] = 0x44; // LITERAL_N8
  // Two halves: a file's size stays far below 2^53, and no BigInt is made per file.
  buf.writeUInt32BE(Math.floor(size / 0x100000000), 5);
  buf.writeUInt32BE(size >>> 0, 9);
  return buf;
}

/** A whole-file literal delta in one buffer: header, `size` zero bytes to be filled at LITERAL_HEADER, END. */
function literalFrame(size: number): Buffer {
  return writeLiteralHeader(Buffer.alloc(LITERAL_HEADER + size + 1), size);
}

/** One LITERAL with an 8-byte length, the file's bytes, END. A file that changes size is cut or padded. */
async function* literalDelta(fd: number, size: number): AsyncGenerator<Buffer> {
  yield writeLiteralHeader(Buffer.alloc(LITERAL_HEADER), size);
  let left = size;
  for await (const chunk of readFdChunks(fd)) {
    if (left === 0) break;
    const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= part.length;
    yield part; // borrowed: sent before the next read (sendFrameFrom's `borrowed`)
  }
  while (left > 0) {
    const pad = Buffer.alloc(Math.min(left, READ_CHUNK));
    left -= pad.length;
    yield pad;
  }
  yield Buffer.from([0]);
}

/** Delta bytes collected before sending (the frame needs its length first). */
class Spool {
  private chunks: Buffer[] = [];
  private fd: number | null = null;
  size = 0;

  constructor(private readonly cfg: Config) {}

  addAll(parts: Buffer[]): void {
    for (const p of parts) this.add(p);
  }

  private add(p: Buffer): void {
    if (p.length === 0) return;
    this.size += p.length;
    if (this.fd === null && this.size > MEMORY_SPOOL_MAX) this.spill();
    if (this.fd !== null) writeFully(this.fd, p);
    else this.chunks.push(p);
  }

  private spill(): void {
    this.fd = openTemp(this.cfg);
    for (const c of this.chunks) writeFully(this.fd, c);
    this.chunks = [];
  }

  async send(link: PeerLink): Promise<void> {
    if (this.fd === null) {
      await link.conn.writer.sendFrame(this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks));
      return;
    }
    const fd = this.fd;
    async function* fromStart(): AsyncGenerator<Buffer> {
      for await (const c of readFdChunks(fd)) yield Buffer.from(c);
    }
    await link.conn.writer.sendFrameFrom(fromStart(), this.size);
  }

  dispose(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.chunks = [];
  }
}

/** An unlinked temporary file in the config's tempdir, else the system's. */
function openTemp(cfg: Config): number {
  const dirs = [cfg.tempdir, process.env['TMPDIR'] ?? null, tmpdir(), '/tmp'].filter((d): d is string => !!d);
  let last: unknown = null;
  for (const dir of dirs) {
    const path = join(dir, `.csync2-delta.${randomBytes(6).toString('hex')}`);
    try {
      const fd = openSync(fsPath(path), FS.O_RDWR | FS.O_CREAT | FS.O_EXCL, 0o600);
      unlinkSync(fsPath(path));
      return fd;
    } catch (err) {
      last = err;
    }
  }
  throw new FatalError(`I/O Error '${strerror(last)}' in rsync-delta: cannot create a temporary file`);
}
