/**
 * The file commands of the daemon (protocol.md §5), each after its checks have
 * passed (session.ts). Replies and their exact bytes are csync2's.
 */
import {
  chmodSync, fchmodSync, fchownSync, futimesSync, lchownSync, lstatSync, mkdirSync, realpathSync, rmdirSync,
  symlinkSync, unlinkSync, utimesSync,
} from 'node:fs';
import { closeSync, constants as FS, fstatSync, openSync, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { prefixEncode, prefixSubst } from '../config/prefix.js';
import { atoi } from '../config/builder.js';
import { genChecktxt, mtimeSeconds } from '../fs/checktxt.js';
import { patchToPending, type PendingWrite } from '../fs/apply.js';
import { backupFile } from '../fs/backup.js';
import { ChunkedAbort, FRAME_ERROR } from '../protocol/frame.js';
import {
  ERR_PARENT_MISSING, MISSING_CHECKTXT, OK_DATA_FOLLOWS, OK_NOT_FOUND, OK_PATH_NOT_FOUND, OK_SEND_DATA, SIZE_ONLY_HEADER,
} from '../protocol/replies.js';
import { MISSING_FILE_SIGNATURE, signatureOfFile, signatureSizeOf } from '../rsync/index.js';
import { markDirty } from '../sync/mark.js';
import { ProtocolError, RsyncError, strerror } from '../util/errors.js';
import { log } from '../util/log.js';
import { fromBuf, fsPath, type BStr } from '../util/bytes.js';
import { hasImpureDirectory, lstatOrNull, sameVersion } from './bookkeeping.js';
import { ERR_BASIS_CHANGED, signatureDigest } from '../protocol/xpatch.js';
import { lstatDir } from '../fs/dirstat.js';
import { isSymlink } from './confine.js';
import { makeNode, type NodeKind } from './special.js';
import { literalOnlyContent } from '../rsync/literal.js';
import { utimesValue } from '../fs/newfile-worker.js';
import type { Outcome, Request, SentSignature, Session } from './session.js';

const EIO_TEXT = 'Input/output error';
/** Files from this size on get their SIG reply's head sent before the signature is made. */
const HEAD_AHEAD_MIN = 1 << 20;

function fail(err: unknown): Outcome {
  return { error: strerror(err) };
}

/** SIG's test for `Parent dir missing.`: the directory `name` would be in is not here. */
export function parentMissingHere(s: Session, name: BStr): boolean {
  let parentReal: BStr | null;
  try {
    parentReal = prefixSubst(s.ctx.cfg, parentName(name));
  } catch {
    parentReal = null;
  }
  return !parentReal || lstatDir(parentReal) === null;
}

/** split_dirname_basename(): the text before the last `/`, trailing slashes trimmed ('' without a slash). */
function parentName(name: BStr): BStr {
  const slash = name.lastIndexOf('/');
  let len = slash + 1;
  while (len > 1 && name.charCodeAt(len - 1) === 0x2f) len--;
  return name.slice(0, len);
}

// ---- SIG ------------------------------------------------------------------

export function sig(s: Session, r: Request): Promise<Outcome> {
  return sigReply(s, r, false);
}

/** SIGT (extensions v3): SIG without reading the file for a signature; its size goes instead. */
export function sigSizeOnly(s: Session, r: Request): Promise<Outcome> {
  return sigReply(s, r, true);
}

/** A file or dirty row of `name`: with nothing at the path, the dirty check of a creation refuses it. */
function rowsSayDirty(s: Session, name: BStr): boolean {
  const rows = s.ctx.store.rowsOf(name);
  return rows.file || rows.dirty;
}

async function sigReply(s: Session, r: Request, sizeOnly: boolean): Promise<Outcome> {
  const { conn } = s;
  let st;
  try {
    // Missing (most SIGs of a first push) without the cost of an exception.
    st = lstatSync(fsPath(r.real), { throwIfNoEntry: false });
  } catch (err) {
    return fail(err);
  }
  if (st === undefined) {
    if (parentMissingHere(s, r.name)) return { error: ERR_PARENT_MISSING };
    // Extensions v4: nothing here, but a row of it is (removed here): the creation that follows will be
    // refused as dirty, so the client must not create what lies below it without asking (csync2's other
    // "not found" says so; our client takes both for a missing file).
    const refused = conn.extensionVersion >= 4 && rowsSayDirty(s, r.name);
    await conn.writer.sendText(`${refused ? OK_NOT_FOUND : OK_PATH_NOT_FOUND}\n${MISSING_CHECKTXT}\noctet-stream 0\n`);
    return null;
  }
  if (hasImpureDirectory(s.ctx.cfg, r.name)) {
    await conn.writer.sendText(`${OK_NOT_FOUND}\n${MISSING_CHECKTXT}\noctet-stream 0\n`);
    return null;
  }
  const head = `${OK_DATA_FOLLOWS}\n${genChecktxt(st, r.name, s.ctx.cfg, true)}\n`;
  if (!st.isFile()) {
    await conn.writer.sendText(`${head}octet-stream 0\n`);
    return null;
  }
  await conn.writer.sendText(head);
  // A big file's signature takes a while: its checktxt goes ahead (csync2 sends it before it
  // reads the file too), so the client learns meanwhile whether it needs a signature of its own.
  if (!sizeOnly && st.size >= HEAD_AHEAD_MIN) await s.releaseUrgent();
  if (sizeOnly) {
    // The file is opened all the same: what would keep a signature from being made fails alike.
    const size = readableSize(r.real);
    if (typeof size === 'number') {
      await conn.writer.sendText(`${SIZE_ONLY_HEADER} ${signatureSizeOf(size)}\n`);
    } else {
      log.debug(0, `I/O Error '${strerror(size.error)}' in rsync-sig: ${r.real}`);
      await conn.writer.sendFrameError();
    }
    return null;
  }
  const sent = await sendSignature(s, r.real);
  if (sent !== null && sent !== MISSING_FILE_SIGNATURE) s.replyUrgent = true;
  // Beyond csync2: remembered for an XPATCH made against it (xpatch()).
  const after = sent === null ? null : lstatOrNull(r.real);
  if (after !== null && sameVersion(st, after)) s.rememberSignature(r.real, signatureDigest(sent!), after, sent!);
  return null;
}

/** The size of the regular file at `real` as opened for reading, or why it cannot be read. */
function readableSize(real: BStr): number | { error: unknown } {
  let fd: number;
  try {
    fd = openSync(fsPath(real), FS.O_RDONLY | FS.O_NONBLOCK);
  } catch (err) {
    return { error: err };
  }
  try {
    return fstatSync(fd).size;
  } catch (err) {
    return { error: err };
  } finally {
    closeSync(fd);
  }
}

/** The signature this session's SIG sent of the file, used up; null unless the file is still that version. */
function takeCurrentSignature(s: Session, real: BStr): SentSignature | null {
  const seen = s.takeSignature(real);
  if (seen === null) return null;
  const now = lstatOrNull(real);
  return now !== null && sameVersion(seen.stat, now) ? seen : null;
}

/** csync_rs_sig(): the signature of the current file, the fixed empty one when it is missing. Returns what was sent. */
async function sendSignature(s: Session, real: BStr, missing?: boolean, staleError?: unknown): Promise<Buffer | null> {
  let sigBytes: Buffer;
  try {
    // A new file (the common case of a first push) needs no thread-pool round trip to learn that.
    sigBytes = (missing ?? statSync(fsPath(real), { throwIfNoEntry: false }) === undefined)
      ? MISSING_FILE_SIGNATURE : await signatureOfFile(fsPath(real));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      sigBytes = MISSING_FILE_SIGNATURE;
    } else {
      log.debug(0, `I/O Error '${strerror(staleError ?? err)}' in rsync-sig: ${real}`);
      await s.conn.writer.sendFrameError();
      return null;
    }
  }
  await s.conn.writer.sendFrame(sigBytes);
  return sigBytes;
}

// ---- MARK / FLUSH ----------------------------------------------------------

export function mark(s: Session, r: Request): Outcome {
  markDirty(s.ctx, r.name, s.peer);
  return null;
}

export function flush(s: Session, r: Request): Outcome {
  s.ctx.store.deleteDirtyAllPeers(r.name);
  return null;
}

// ---- TYPE / GETTM / GETSZ ---------------------------------------------------

/** Send the raw content, then end the session (the client reads to EOF). */
export async function type(s: Session, r: Request): Promise<Outcome> {
  if (isSymlink(r.real)) {
    // Beyond csync2: follow the link only to a file this peer may read anyway.
    let target: BStr | null = null;
    try {
      target = fromBuf(realpathSync.native(fsPath(r.real), { encoding: 'buffer' }));
    } catch {
      target = null;
    }
    if (target !== null && s.permission(prefixEncode(s.ctx.cfg, target), r.tags[1]!, true) !== 0) {
      return { error: s.refuse(r, `the symlink leads to ${target}, outside what the peer may read`) };
    }
  }
  let fh;
  try {
    fh = await open(fsPath(r.real), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return fail(err);
    fh = null;
  }
  const { writer } = s.conn;
  await writer.sendLine(OK_DATA_FOLLOWS);
  if (fh) {
    try {
      const buf = Buffer.allocUnsafe(256 * 1024);
      for (;;) {
        let n: number;
        try {
          n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
        } catch {
          n = 0; // a directory reads as nothing, like fread() on it
        }
        if (n === 0) break;
        await writer.sendRaw(Buffer.from(buf.subarray(0, n)));
        if (writer.failed) break;
      }
    } finally {
      await fh.close();
    }
  }
  return { noReply: true, end: true };
}

async function statValue(s: Session, r: Request, pick: (st: NonNullable<ReturnType<typeof lstatOrNull>>) => number): Promise<Outcome> {
  const st = lstatOrNull(r.real);
  await s.conn.writer.sendText(`${OK_DATA_FOLLOWS}\n${st === null ? -1 : pick(st)}\n`);
  return { noReply: true };
}

export function getTime(s: Session, r: Request): Promise<Outcome> {
  return statValue(s, r, (st) => mtimeSeconds(st));
}

export function getSize(s: Session, r: Request): Promise<Outcome> {
  return statValue(s, r, (st) => st.size);
}

// ---- DEL / PATCH ------------------------------------------------------------

export async function del(s: Session, r: Request): Promise<Outcome> {
  const failure = await backupFile(r.real, s.ctx.matcher.groupsFor(r.name));
  if (failure) return { error: failure.error };
  const st = lstatOrNull(r.real);
  if (st === null) return null;
  try {
    if (st.isDirectory()) rmdirSync(fsPath(r.real));
    else unlinkSync(fsPath(r.real));
  } catch (err) {
    return fail(err);
  }
  return null;
}

export async function patch(s: Session, r: Request): Promise<Outcome> {
  const failure = await backupFile(r.real, s.ctx.matcher.groupsFor(r.name));
  if (failure) return { error: failure.error };
  const { conn } = s;
  const missing = knownMissing(r) ?? statSync(fsPath(r.real), { throwIfNoEntry: false }) === undefined;
  await conn.writer.sendLine(OK_SEND_DATA);
  // csync2's client sends SIG, then PATCH of the same file: when it is still the version
  // that SIG described, its signature is sent again without reading the whole file again.
  const seen = missing ? null : takeCurrentSignature(s, r.real);
  if (seen?.bytes) await conn.writer.sendFrame(seen.bytes);
  // csync2 finds a directory left by the unlink step not a regular file and reports the errno
  // that step left (its rmdir's, e.g. 'Directory not empty').
  else await sendSignature(s, r.real, missing, directoryLeft(r));
  const size = await conn.reader.readFrameHeader(true);
  if (size === FRAME_ERROR) return { error: EIO_TEXT };
  return receiveContent(s, r, conn.reader.readFramePayload(size), missing);
}

/** After the unlink step: is the path empty, as far as the dirty check's lstat() tells (undefined: it does not)? */
function knownMissing(r: Request): boolean | undefined {
  if (r.stat === null || r.removedBefore) return true;
  return r.stat?.isFile() ? false : undefined;
}

/**
 * XPATCH (beyond csync2, replies.ts): PATCH whose delta came right after the
 * command line, made of literals only, so it is applied without a basis (a
 * delta that copies from one is corrupt here).
 */
export async function xpatch(s: Session, r: Request): Promise<Outcome> {
  const frame = r.frame!;
  // With a basis token (tag 3) the delta was made against the signature this
  // session's SIG sent: the file must still be that version.
  const token = r.tags[3]!;
  if (token !== '') {
    const seen = takeCurrentSignature(s, r.real);
    if (seen === null || seen.digest !== token) {
      log.debug(1, `${r.name} from ${s.peer}: not the version its SIG described; the XPATCH is refused.`);
      return { error: ERR_BASIS_CHANGED, noUpdate: true };
    }
  }
  const failure = await backupFile(r.real, s.ctx.matcher.groupsFor(r.name));
  if (failure) return { error: failure.error };
  frame.consumed = true;
  if (frame.size === FRAME_ERROR) return { error: EIO_TEXT };
  // Where csync2's PATCH fails making the signature of a directory the unlink step left, with that step's errno.
  const left = directoryLeft(r);
  if (left !== undefined) log.debug(0, `I/O Error '${strerror(left)}' in rsync-sig: ${r.real}`);
  // XPATCHS: the chunks are applied as they arrive (the client sends them while it makes them).
  return receiveContent(s, r, s.conn.reader.readPayload(frame.size), token === '');
}

/**
 * XPATCH of a new file (nothing at the path, no basis token), for the write-behind way
 * (session.ts): the backup step, then the frame read whole; its content when the delta
 * is literals only, else the outcome of applying it the ordinary way.
 */
export async function xpatchNewFile(s: Session, r: Request): Promise<Outcome | { content: Buffer }> {
  const frame = r.frame!;
  const failure = await backupFile(r.real, s.ctx.matcher.groupsFor(r.name));
  if (failure) return { error: failure.error };
  frame.consumed = true;
  const delta = await s.conn.reader.readFrame(frame.size);
  const content = literalOnlyContent(delta);
  if (content !== null) return { content };
  return receiveContent(s, r, once(delta), true);
}

async function* once(chunk: Buffer): AsyncGenerator<Buffer, void, undefined> {
  yield chunk;
}

/** The error the unlink step left when it could not clear the path of a directory (csync2 reports its errno). */
function directoryLeft(r: Request): unknown {
  return r.stat?.isDirectory() && !r.removedBefore ? r.unlinkError ?? EISDIR : undefined;
}

const EISDIR = { code: 'EISDIR' };

/** The delta applied to the target, as csync2's PATCH ends. */
async function receiveContent(s: Session, r: Request, delta: AsyncIterable<Buffer>, noBasis: boolean): Promise<Outcome> {
  if (directoryLeft(r) !== undefined) {
    // csync2's patch cannot replace the directory either; it answers with EISDIR's text, logging nothing more.
    for await (const chunk of delta) void chunk;
    return { error: strerror(EISDIR) };
  }
  let write: PendingWrite;
  try {
    // Found missing by the command's check: a file created here since is found when it goes in place.
    const opts = { ...s.applyOptions(), targetMissing: knownMissing(r) === true };
    ({ write } = await patchToPending(r.real, delta, opts, noBasis));
    // The received content goes in place with the client's SETIME for it (pending.ts); when
    // something else had to be removed from the path first, at once, as csync2 does.
    if (!r.removedBefore) return { pending: write };
    await write.commit();
  } catch (err) {
    if (err instanceof RsyncError) {
      log.debug(0, 'Internal error from rsync library!');
      log.debug(0, `${r.name} from ${s.peer}: corrupt delta (${err.message}); ending the session.`);
      return { error: EIO_TEXT, end: true };
    }
    if (err instanceof ChunkedAbort) return { error: EIO_TEXT }; // the client could not read its file
    if (err instanceof ProtocolError) throw err; // the connection broke or the frame was bad: fatal
    log.debug(0, `I/O Error '${strerror(err)}' in rsync-patch: ${r.real}`);
    return fail(err);
  }
  return null;
}

// ---- MKDIR / MK* / MKLINK / MKSOCK -----------------------------------------

export function mkdir(s: Session, r: Request): Outcome {
  try {
    mkdirSync(fsPath(r.real), 0o700);
  } catch (err) {
    const st = lstatOrNull(r.real);
    if (st === null || !st.isDirectory()) return fail(err);
  }
  return null;
}

async function node(r: Request, kind: NodeKind, withDevice: boolean): Promise<Outcome> {
  try {
    await makeNode(r.real, kind, withDevice ? BigInt(atoi(r.tags[3]!)) : 0n);
  } catch (err) {
    return fail(err);
  }
  return null;
}

export function mkchr(_s: Session, r: Request): Promise<Outcome> {
  return node(r, 'c', true);
}

export function mkblk(_s: Session, r: Request): Promise<Outcome> {
  return node(r, 'b', true);
}

export function mkfifo(_s: Session, r: Request): Promise<Outcome> {
  return node(r, 'p', false);
}

export function mklink(_s: Session, r: Request): Outcome {
  try {
    symlinkSync(fsPath(r.tags[3]!), fsPath(r.real));
  } catch (err) {
    return fail(err);
  }
  return null;
}

export function mksock(): Outcome {
  return null; // csync2 ignores sockets: what was there is removed, nothing is made
}

// ---- SETOWN / SETMOD / SETIME -----------------------------------------------

/** uid_t/gid_t from a C int: -1 stays "unchanged", other negatives wrap like the C cast. */
function idArg(v: number): number {
  return v === -1 ? -1 : v >>> 0;
}

/** SETOWN's ids for chown() (-1: unchanged), or null when `ignore uid` and `ignore gid` both hold. */
export function ownerArgs(s: Session, r: Request): { uid: number; gid: number } | null {
  const cfg = s.ctx.cfg;
  if (cfg.ignoreUid && cfg.ignoreGid) return null;
  return { uid: cfg.ignoreUid ? -1 : idArg(atoi(r.tags[3]!)), gid: cfg.ignoreGid ? -1 : idArg(atoi(r.tags[4]!)) };
}

export function setown(s: Session, r: Request): Outcome {
  const ids = ownerArgs(s, r);
  if (ids === null) return null;
  try {
    if (r.pending) fchownSync(r.pending.write.fd, ids.uid, ids.gid);
    else lchownSync(fsPath(r.real), ids.uid, ids.gid);
  } catch (err) {
    return fail(err);
  }
  return null;
}

/** SETMOD's mode for chmod(), or null with `ignore mod`. */
export function modeArg(s: Session, r: Request): number | null {
  if (s.ctx.cfg.ignoreMod) return null;
  return (atoi(r.tags[3]!) >>> 0) & 0o7777;
}

/** csync2 replicates setuid and setgid bits like any other; the log says who set them. */
export function logSpecialBits(s: Session, r: Request, mode: number): void {
  if (mode & 0o6000) log.debug(1, `SETMOD ${r.name} from ${s.peer}: mode ${mode.toString(8)} has setuid/setgid bits.`);
}

export function setmod(s: Session, r: Request): Outcome {
  const mode = modeArg(s, r);
  if (mode === null) return null;
  if (!r.pending && isSymlink(r.real)) return { error: s.refuse(r, 'SETMOD would change the target of a symlink') };
  logSpecialBits(s, r, mode);
  try {
    if (r.pending) fchmodSync(r.pending.write.fd, mode);
    else chmodSync(fsPath(r.real), mode);
  } catch (err) {
    return fail(err);
  }
  return null;
}

/** SETIME's time, in seconds. */
export function timeSeconds(r: Request): number {
  return atoll(r.tags[3]!);
}

export function setime(s: Session, r: Request): Outcome {
  if (!r.pending && isSymlink(r.real)) return { error: s.refuse(r, 'SETIME would change the target of a symlink') };
  const t = timeSeconds(r);
  try {
    const when = utimesValue(t);
    if (r.pending) futimesSync(r.pending.write.fd, when, when);
    else utimesSync(fsPath(r.real), when, when);
  } catch (err) {
    return fail(err);
  }
  return null;
}

/** C atoll(): leading blanks, sign, digits; saturating at the 64-bit range. */
function atoll(s: BStr): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(s)!;
  if (!m[2]) return 0;
  let v = BigInt(m[2]);
  if (m[1] === '-') v = -v;
  const MAX = (1n << 63n) - 1n;
  if (v > MAX) v = MAX;
  if (v < -MAX - 1n) v = -MAX - 1n;
  return Number(v);
}
