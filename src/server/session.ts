/**
 * One daemon session (csync2's forked child): the first lines (`SSL`,
 * `CONFIG`), the config and database of that config, then the command loop
 * with csync2's processing order for every line:
 *
 *   unknown command -> identification -> [confinement] -> permission ->
 *   [symlinked directory] -> dirty check -> unlink -> action ->
 *   "file updated" bookkeeping -> reply
 *
 * (bracketed steps are beyond csync2). At the end, scheduled actions run and
 * the session's changes are committed. All state lives in this object, so a
 * `-ii` process serves many sessions at once.
 */
import { rmdirSync, unlinkSync, type Stats } from 'node:fs';
import type { Options } from '../cli/options.js';
import type { Connection } from '../net/connection.js';
import { loadTlsCredentials } from '../net/tls.js';
import { disableGroupsForGroupCommand } from '../config/load.js';
import { ChunkedAbort, FRAME_CHUNKED } from '../protocol/frame.js';
import type { LineReader } from '../protocol/linereader.js';
import { SERVER_LINE_MAX } from '../protocol/limits.js';
import {
  ERR_ALSO_DIRTY, ERR_CONFIG_NAME, ERR_EXPECT_SSL_CONFIG, ERR_GROUP_ALREADY_SET, ERR_PARENT_MISSING, ERR_PERM, ERR_PERM_SLAVE,
  ERR_UNKNOWN_COMMAND, OK_ACTIVATING_SSL, OK_CMD_FINISHED, classifyReply, isOkCode, pleaseIdentify,
} from '../protocol/replies.js';
import { MAX_TOKENS, asciiLower, equalsIgnoreCase, splitTokens } from '../protocol/tokenize.js';
import { urlDecode } from '../protocol/urlencode.js';
import { markDirty } from '../sync/mark.js';
import { scheduleActions } from '../actions/schedule.js';
import { Checker, checkRoots } from '../sync/check.js';
import type { RunContext } from '../sync/context.js';
import { syncDirectories, type ApplyOptions } from '../fs/apply.js';
import { log } from '../util/log.js';
import { fsPath, type BStr } from '../util/bytes.js';
import { COMMANDS, type CommandSpec } from './commands.js';
import { logSpecialBits, modeArg, ownerArgs, parentMissingHere, timeSeconds, xpatchNewFile } from './filecmds.js';
import { newFileWorker, runNewFileHere, type NewFileJob, type NewFileResult, type StepError } from '../fs/newfile-worker.js';
import { claimFirstTempName, createTempFile, releaseTemp } from '../fs/tempfile.js';
import { PendingWrite } from '../fs/apply.js';
import type { ReplySlot } from '../protocol/linewriter.js';
import { openSessionContext, validConfigName } from './context.js';
import { resolveName, symlinkedDirectory } from './confine.js';
import { fileUpdated, lstatOrNull, sameVersion } from './bookkeeping.js';
import { PENDING_MAX, PathMap, PendingFiles, isBelow, isRelatedPath, type PendingFile } from './pending.js';
import { dirStatGeneration, forgetDirStats, lstatDir } from '../fs/dirstat.js';
import { atoi } from '../config/builder.js';
import { strerror } from '../util/errors.js';
import type { StoreLease } from './stores.js';

/** One parsed command line. */
export interface Request {
  /** Lower-cased command name. */
  cmd: BStr;
  /** tag[0..31], url-decoded ('' when missing). */
  tags: BStr[];
  /** The raw tokens as received. */
  raw: BStr[];
  /** tag[2], the file name (csync2 spelling, e.g. `%data%/x`). */
  name: BStr;
  /** The file's real path on this host (commands with a permission check only). */
  real: BStr;
  /** SETOWN/SETMOD/SETIME of a received file not yet in place: they go to its temp file. */
  pending?: PendingFile;
  /** The unlink step removed what was at the path (PATCH then puts its file in place at once). */
  removedBefore?: boolean;
  /** lstat() of the path at the dirty check (null: nothing there); undefined when there was none. */
  stat?: Stats | null;
  /** Why the unlink step could not remove what is there (csync2's errno stays from it). */
  unlinkError?: unknown;
  /** XPATCH: the frame that followed the line; drained after the command unless consumed. */
  frame?: { size: number; consumed: boolean };
}

/** How a command ended; null = success (`OK (cmd_finished).`). */
export type Outcome = null | {
  /** Sent instead of `OK (cmd_finished).` (bookkeeping still runs, as in csync2). */
  error?: BStr;
  /** Another final line (BYE). */
  reply?: BStr;
  /** The command sent everything itself (GETTM, GETSZ, TYPE). */
  noReply?: boolean;
  /** No bookkeeping. */
  noUpdate?: boolean;
  /** The session ends after this command. */
  end?: boolean;
  /** PATCH: the received content, sealed in its temp file, to be put in place later (pending.ts). */
  pending?: PendingWrite;
  /** XPATCHA written behind (Session.writeBehind()): its four replies and its row come later. */
  behind?: true;
};

/** Signatures remembered for XPATCH per session (a pipelining client has at most a window of SIGs ahead). */
const SIGNATURES_KEPT = 1024;
/**
 * The bytes of remembered signatures, up to this many in all (a 200 MB file's is 2 MB): a PATCH
 * right after the SIG of the same, unchanged file sends them again instead of reading the file again.
 */
const SIGNATURE_BYTES_KEPT = 16 << 20;

/** A signature this session's SIG sent. */
export interface SentSignature {
  digest: string;
  /** The file's lstat() when it was made. */
  stat: Stats;
  /** The signature itself, while the byte budget allows. */
  bytes: Buffer | null;
}

/** The commands that a pending file's temp file takes. */
const ATTRIBUTE_COMMANDS = new Set<BStr>(['setown', 'setmod', 'setime']);
/**
 * While more received files are finishing (their fsyncs run together in the thread
 * pool), up to this many finished ones wait for them: their replies leave in one write
 * (on loopback a write costs the sender the receiver's side of TCP too) and one commit.
 */
const RELEASE_GROUP = 16;
/**
 * While received files are finishing, the loop lets the event loop turn after this many command
 * lines (and sends what is ready): with a window of commands buffered it would otherwise read them
 * all before it took the file worker's answers and the flushes' ends, and the client would get its
 * replies in bursts, one per window, and send its next commands in bursts (tree50k initial push,
 * 4 alternated pairs: 10.3-12.3 -> 9.8-11.5 s, faster in each pair).
 */
const TURN_EVERY = 16;
/**
 * Replies stay held while no more than this is missing of the frame being read: its sender
 * writes a frame whole, without waiting for a reply (on loopback the rest of a file of tens of
 * KiB comes in TLS records a few microseconds apart, and a commit and a write per record cost
 * a first push of small files a commit per 5 files instead of one per 10).
 */
const FRAME_REST_HELD = 256 * 1024;
/** XPATCHA frames up to this size may be written behind (Session.writeBehind()); bigger ones stream. */
const BEHIND_MAX = 256 * 1024;
/** The file worker starts at a session's this many-th XPATCHA, and takes files from this one on. */
const BEHIND_WARM_AT = 4;
const BEHIND_FROM = 16;
/**
 * Beyond this many files going in place, an XPATCHA is done the ordinary way (on this thread, the
 * next line read only after it): a client that sends without reading replies holds no more.
 */
const BEHIND_FINISHING_MAX = 1024;

export interface SessionOptions {
  opts: Options;
  /** Log prefix id (0 = none). */
  id: number;
}

/** The daemon's effective uid (asked once: it never changes, and SETMOD asks per file). */
let EUID: number | undefined;

export class Session {
  readonly opts: Options;
  readonly id: number;
  ctx!: RunContext;
  private lease: StoreLease | null = null;
  /** The HELLO name once identified. */
  peer: BStr | null = null;
  /** A group list is active (daemon -G, or an earlier GROUP). */
  private groupListSet: boolean;
  /** Directories that got new entries by rename, fsynced once at the end. */
  readonly changedDirs = new Set<BStr>();
  /** A fatal error ended the session (for the -i / -iii exit code). */
  failed = false;
  /** Received files not yet in place. */
  private readonly pending = new PendingFiles();
  /** Received files going in place after their SETIME (its reply waits in a reserved slot), by real path. */
  private readonly finishing = new PathMap<Promise<void>>();
  /** Signatures SIG sent of regular files, by real path (the basis of an XPATCH; oldest dropped first). */
  private readonly signatures = new Map<BStr, SentSignature>();
  private signatureBytes = 0;
  /**
   * A reply the client waits for to go on (a signature: its delta is made from it) is
   * held: it leaves with the command's last line instead of at the end of the burst.
   */
  replyUrgent = false;

  constructor(readonly conn: Connection, so: SessionOptions) {
    this.opts = so.opts;
    this.id = so.id;
    this.groupListSet = so.opts.groupList !== null;
  }

  /** Serve the whole session. Fatal errors are thrown after the end-of-session work. */
  async run(): Promise<void> {
    const started = log.messagesPrinted;
    let failure: unknown = null;
    try {
      if (await this.handshake()) await this.loop();
    } catch (err) {
      failure = err;
      this.failed = true;
    }
    try {
      // What was acknowledged goes in place even when the connection broke.
      await this.finalizeAll();
      if (this.lease) for (let w = this.releaseWhenCommitted(); w; w = this.releaseWhenCommitted()) await w;
    } catch (err) {
      failure ??= err;
      this.failed = true;
    }
    await this.conn.close().catch(() => undefined);
    try {
      await this.finish();
    } catch (err) {
      failure ??= err;
      this.failed = true;
    }
    if (failure !== null) throw failure;
    log.debug(1, 'Connection closed.');
    if (log.messagesPrinted > started && this.opts.debugLevel > 0) log.debug(0, 'Finished with 0 errors.');
    // -t / -s: a csync2 session ends in main(), with `<pid> TIMESTAMP` and `<pid> TOTALTIME` lines.
    log.printTotalTime();
  }

  /** csync2 main(): optional `SSL`, then `CONFIG [name]`; then config and database. False = end quietly. */
  private async handshake(): Promise<boolean> {
    let line = await this.conn.readLine(SERVER_LINE_MAX);
    if (line === null) return false;
    let toks = splitTokens(line);
    if (toks.length > 0 && equalsIgnoreCase(toks[0]!, 'ssl')) {
      await this.conn.sendLine(OK_ACTIVATING_SSL);
      await this.conn.upgradeToTlsServer(loadTlsCredentials(this.opts.systemDir));
      line = await this.conn.readLine(SERVER_LINE_MAX);
      if (line === null) return false;
      toks = splitTokens(line);
    }
    if (toks.length === 0 || !equalsIgnoreCase(toks[0]!, 'config')) {
      await this.conn.sendLine(ERR_EXPECT_SSL_CONFIG);
      return false;
    }
    const cfgName = toks.length > 1 ? urlDecode(toks[1]!) : this.opts.cfgName;
    if (!validConfigName(cfgName)) {
      await this.conn.sendLine(ERR_CONFIG_NAME);
      return false;
    }
    const { ctx, lease } = await openSessionContext(this.opts, cfgName, this.id);
    this.ctx = ctx;
    this.lease = lease;
    await this.conn.sendLine(OK_CMD_FINISHED);
    return true;
  }

  private async loop(): Promise<void> {
    // Replies are held and sent in bursts, each after the commit of the changes it
    // acknowledges: whenever the next command is not here yet (and when much is held).
    const { reader, writer } = this.conn;
    writer.hold();
    writer.onHoldFull = () => {
      if (!this.ctx.store.criticalOpen) this.release();
    };
    // While received files are finishing, their completions release (releaseSoon), in groups. In the
    // middle of a file's frame the client is sending, not waiting for us: the next wait releases.
    reader.beforeWait = (frameLeft) => ((this.finishing.size > 0 || (frameLeft !== undefined && frameLeft <= FRAME_REST_HELD))
      && !this.replyUrgent ? undefined : this.releaseWhenCommitted());
    let sinceTurn = 0;
    for (;;) {
      if (this.finishing.size > 0 && ++sinceTurn >= TURN_EVERY) {
        sinceTurn = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
        // Not waiting for another session mid-change: its end releases, or the next turn does.
        void this.releaseWhenCommitted();
      }
      const line = await this.conn.readLine(SERVER_LINE_MAX);
      if (line === null) return;
      const raw = splitTokens(line);
      if (raw.length === 0) continue;
      const tags = new Array<BStr>(MAX_TOKENS);
      for (let i = 0; i < MAX_TOKENS; i++) tags[i] = i < raw.length ? urlDecode(raw[i]!) : '';
      const req: Request = { cmd: asciiLower(tags[0]!), tags, raw, name: tags[2]!, real: '' };
      const framed = this.commandSpec(req.cmd)?.framed;
      if (framed) req.frame = { size: framed === 'chunked' ? FRAME_CHUNKED : await reader.readFrameHeader(true), consumed: false };
      const end = await this.commands(req);
      if (req.frame && !req.frame.consumed) {
        // Refused before its data was used: the data still has to leave the stream.
        await drainFrame(reader, req.frame.size);
      }
      if (end) return;
    }
  }

  /** The command table entry, extensions only when agreed on. */
  private commandSpec(cmd: BStr): CommandSpec | undefined {
    const spec = COMMANDS.get(cmd);
    return spec?.extension && this.conn.extensionVersion < spec.extension ? undefined : spec;
  }

  /** A line standing for several commands (CommandSpec.expand), or one command. Returns true when the session ends. */
  private async commands(req: Request): Promise<boolean> {
    const expand = this.commandSpec(req.cmd)?.expand;
    if (!expand) return this.command(req);
    const parts = expand(req);
    const behind = req.cmd === 'xpatcha' ? this.writeBehindFor(parts) : undefined;
    for (let i = 0; i < parts.length; i++) {
      if (await this.command(parts[i]!, i === 0 ? behind : undefined)) return true;
      // The client reads the later replies only after an OK to the first (replies.ts XPATCHA_COMMAND).
      if (i === 0 && !this.lastReplyOk) return false;
    }
    return false;
  }

  /** The last command's reply was sent by command() itself and is an OK. */
  private lastReplyOk = false;

  /**
   * One command line. Returns true when the session ends. `instead`, after the checks: the
   * command done another way (its outcome), or undefined to run it as usual.
   */
  private async command(req: Request, instead?: (req: Request) => Promise<Outcome | undefined>): Promise<boolean> {
    this.lastReplyOk = false;
    const spec = this.commandSpec(req.cmd);
    if (!spec) {
      await this.conn.sendLine(ERR_UNKNOWN_COMMAND);
      return false;
    }
    if (spec.ident && this.peer === null) {
      await this.conn.sendLine(pleaseIdentify(this.conn.peerIp));
      return false;
    }
    if ((this.pending.size > 0 || this.finishing.size > 0) && !spec.perm) await this.finalizeAll();
    const refusal = spec.perm ? this.checkAccess(spec, req) : null;
    if (refusal !== null) {
      await this.conn.sendLine(refusal);
      return false;
    }
    let held: PendingFile | undefined;
    // Files being received into a directory need not be in place for its owner or (when it leaves
    // it open to us) its mode: they stay pending, their own attributes still go to their temp files.
    const keepBelow = this.pending.size + this.finishing.size > 0 && spec.perm && this.leavesContentsAlone(req);
    const waitsFor = (real: BStr): boolean => isRelatedPath(real, req.real) && !(keepBelow && isBelow(real, req.real));
    if (this.pending.size > 0 && spec.perm) {
      held = ATTRIBUTE_COMMANDS.has(req.cmd) ? this.pending.get(req.real) : undefined;
      for (const p of this.pending.related(req.real)) if (p !== held && waitsFor(p.real)) await this.finalize(p);
    }
    if (this.finishing.size > 0 && spec.perm) {
      for (const [real, done] of this.finishing.relatedEntries(req.real)) if (waitsFor(real)) await done;
    }
    // A received file not in place yet is checked once, when it goes in place (finalize()):
    // a local change to the old file since its PATCH is found there.
    if (held) return this.attributeOfPending(spec, req, held);
    // Extensions v4 (net/tls.ts): a creation the client sent without a SIG first meets a
    // missing parent as that SIG would have, before any dirty check (SIG makes none: a row
    // below a directory removed here would otherwise answer `File is also marked dirty here!`).
    if (spec.creates && this.conn.extensionVersion >= 4 && parentMissingHere(this, req.name)) {
      await this.conn.sendLine(ERR_PARENT_MISSING);
      return false;
    }
    if (spec.dirty) await this.ctx.store.noCritical();
    if (spec.dirty && this.dirtyHere(req)) {
      await this.conn.sendLine(ERR_ALSO_DIRTY);
      return false;
    }
    // From the change on the disk until its row is committed, hold the db's write
    // lock: a local check never sees the new file beside the old row. PATCH takes
    // it only when the received content is put in place (not over the transfer).
    if (spec.update && req.cmd !== 'patch' && !spec.framed) this.enterCritical();
    let outcome: Outcome;
    try {
      if (spec.unlink) removeBefore(req, spec.unlink);
      const done = instead === undefined ? undefined : await instead(req);
      outcome = done !== undefined ? done : await spec.run(this, req);
      if (spec.update && !outcome?.noUpdate) {
        if (outcome?.pending) this.addPending(req, outcome.pending);
        else if (!outcome?.behind) fileUpdated(this.ctx, req.name, this.peer!);
        if (spec.update === 1) {
          log.debug(1, `Updated ${req.name} from ${this.peer ?? '???'}.`);
          scheduleActions(this.ctx, req.name, false);
        }
      }
    } finally {
      this.leaveCritical();
    }
    // The entry at the path may have changed: no remembered lstat() of it stays.
    if (spec.update === 1) forgetDirStats(req.real);
    if (this.pending.size > PENDING_MAX) await this.finalize(this.pending.oldest()!);
    if (!outcome?.noReply) {
      const reply = outcome?.error ?? outcome?.reply ?? OK_CMD_FINISHED;
      this.lastReplyOk = isOkCode(classifyReply(reply));
      await this.conn.sendLine(reply);
    }
    if (this.replyUrgent) await this.releaseUrgent();
    return outcome?.end === true;
  }

  /** XPATCHA lines seen (the write-behind way starts after a few: its thread takes a while to start). */
  private xpatchaSeen = 0;

  /**
   * The write-behind way for an XPATCHA (a new file's content and attributes written in the
   * file worker while the next commands are read), or undefined when it cannot serve: a
   * basis token (the file exists), a big or failed frame, -vv and above (each part's checks
   * print there), the first few of a session.
   */
  private writeBehindFor(parts: Request[]): ((req: Request) => Promise<Outcome | undefined>) | undefined {
    const seen = ++this.xpatchaSeen;
    if (seen === BEHIND_WARM_AT) newFileWorker().warm();
    const size = parts[0]!.frame?.size ?? -1;
    if (seen < BEHIND_FROM || parts[0]!.tags[3] !== '' || size < 0 || size > BEHIND_MAX || log.enabled(2)
      || this.finishing.size >= BEHIND_FINISHING_MAX || !newFileWorker().usable) {
      return undefined;
    }
    return (req) => this.writeBehind(req, parts);
  }

  /**
   * After XPATCH's checks: nothing at the path, so the content and the SETOWN, SETMOD and
   * SETIME on the line go to the worker with a reply slot each, and the file goes in place
   * (finishBehind()) while the session reads on. Undefined when the path is not empty.
   */
  private async writeBehind(req: Request, parts: Request[]): Promise<Outcome | undefined> {
    if (req.stat !== null || req.removedBefore) return undefined;
    const tempPath = claimFirstTempName(req.real, this.ctx.cfg.tempdir);
    if (tempPath === null) return undefined;
    const got = await xpatchNewFile(this, req);
    if (got === null || !('content' in got)) {
      releaseTemp(tempPath);
      return got;
    }
    const [, own, mod, tim] = parts as [Request, Request, Request, Request];
    const ids = ownerArgs(this, own);
    const job: NewFileJob = {
      path: tempPath, data: got.content, uid: ids?.uid ?? null, gid: ids?.gid ?? null, mode: modeArg(this, mod), mtime: timeSeconds(tim),
    };
    const { writer } = this.conn;
    const slots = [writer.reserve(), writer.reserve(), writer.reserve(), writer.reserve()] as const;
    const done: Promise<void> = this.finishBehind(req, mod, job, slots).catch((err: unknown) => {
      // Not expected (each step's failure has its reply): the client must not wait forever, and
      // after an error to the XPATCH it reads no more replies of the line.
      log.debug(0, `${req.name} from ${this.peer ?? '?'}: ${strerror(err)}`);
      const xpatchFailed = slots[0].data === null;
      slots.forEach((slot, i) => writer.fill(slot, xpatchFailed && i > 0 ? null : strerror(err)));
    }).then(() => {
      this.finishing.delete(req.real, done);
      this.releaseSoon();
    });
    this.finishing.set(req.real, done);
    return { behind: true, noReply: true };
  }

  /** The worker's steps answered: the four replies, then the file in place, as the parts would have done it. */
  private async finishBehind(req: Request, mod: Request, job: NewFileJob, slots: readonly ReplySlot[]): Promise<void> {
    const { writer } = this.conn;
    let res: NewFileResult;
    try {
      res = await newFileWorker().run(job);
    } catch {
      res = { fd: -1, create: { message: 'no file worker' } };
    }
    if (res.create) {
      // The first name was taken (a stale temp file, say) or not possible: the ordinary way of making one.
      releaseTemp(job.path);
      try {
        const temp = await createTempFile(req.real, this.ctx.cfg.tempdir);
        job.path = temp.path;
        res = runNewFileHere({ ...job, fd: temp.fd });
      } catch (err) {
        return this.behindFailed(req, slots, err);
      }
    }
    const write = PendingWrite.adopt(req.real, { path: job.path, fd: res.fd }, { ...this.applyOptions(), targetMissing: true });
    if (res.write) {
      await write.abort();
      return this.behindFailed(req, slots, stepError(res.write));
    }
    write.seal();
    writer.fill(slots[0]!, OK_CMD_FINISHED);
    writer.fill(slots[1]!, res.owner ? strerror(stepError(res.owner)) : OK_CMD_FINISHED);
    if (job.mode !== null) logSpecialBits(this, mod, job.mode);
    writer.fill(slots[2]!, res.mode ? strerror(stepError(res.mode)) : OK_CMD_FINISHED);
    const p: PendingFile = { name: req.name, real: req.real, write, stat: null };
    if (res.mtime) {
      // As after a failed SETIME: the file stays pending, put in place later.
      writer.fill(slots[3]!, strerror(stepError(res.mtime)));
      this.pending.add(p);
      return;
    }
    let reply: BStr;
    try {
      reply = (await this.finalize(p)) ?? OK_CMD_FINISHED;
    } catch (err) {
      reply = strerror(err);
    }
    writer.fill(slots[3]!, reply);
  }

  /** The content could not be written: XPATCH's error (and no reply for the rest), its row as after a failed PATCH. */
  private behindFailed(req: Request, slots: readonly ReplySlot[], err: unknown): void {
    log.debug(0, `I/O Error '${strerror(err)}' in rsync-patch: ${req.real}`);
    const { writer } = this.conn;
    writer.fill(slots[0]!, strerror(err));
    for (let i = 1; i < slots.length; i++) writer.fill(slots[i]!, null);
    fileUpdated(this.ctx, req.name, this.peer!);
  }

  /**
   * SETOWN, or a SETMOD that keeps the directory writable and searchable for us (root, or
   * its owner with u+wx): the files below it can go in place after it as well as before.
   * (A directory's SETIME must wait for them: putting them in place changes its mtime.)
   */
  private leavesContentsAlone(req: Request): boolean {
    if (req.cmd === 'setown') return true;
    if (req.cmd !== 'setmod') return false;
    const euid = (EUID ??= process.geteuid?.() ?? -1);
    if (euid === 0) return true;
    const mode = atoi(req.tags[3]!) >>> 0;
    return (mode & 0o300) === 0o300 && lstatDir(req.real)?.uid === euid;
  }

  rememberSignature(real: BStr, digest: string, stat: Stats, bytes: Buffer): void {
    this.forgetSignature(real);
    const keep = bytes.length <= SIGNATURE_BYTES_KEPT;
    this.signatures.set(real, { digest, stat, bytes: keep ? bytes : null });
    if (keep) this.signatureBytes += bytes.length;
    // Oldest first: beyond the count they go, beyond the byte budget their bytes go.
    for (const [name, seen] of this.signatures) {
      if (this.signatures.size > SIGNATURES_KEPT) {
        this.forgetSignature(name);
      } else if (this.signatureBytes > SIGNATURE_BYTES_KEPT && seen.bytes !== null) {
        this.signatureBytes -= seen.bytes.length;
        seen.bytes = null;
      } else {
        break;
      }
    }
  }

  takeSignature(real: BStr): SentSignature | null {
    const seen = this.signatures.get(real) ?? null;
    this.forgetSignature(real);
    return seen;
  }

  private forgetSignature(real: BStr): void {
    const seen = this.signatures.get(real);
    if (seen === undefined) return;
    if (seen.bytes !== null) this.signatureBytes -= seen.bytes.length;
    this.signatures.delete(real);
  }

  private addPending(req: Request, write: PendingWrite): void {
    this.pending.add({ name: req.name, real: req.real, write, stat: req.stat });
  }

  /** SETOWN, SETMOD or SETIME of a received file not yet in place; SETIME puts it in place. */
  private async attributeOfPending(spec: CommandSpec, req: Request, p: PendingFile): Promise<boolean> {
    req.pending = p;
    let outcome = await spec.run(this, req);
    if (outcome === null) {
      if (req.cmd === 'setime') {
        // The client's last command for the file: it goes in place once its fsync is
        // done, and its reply waits in a reserved slot, while the next commands are read.
        const { writer } = this.conn;
        const slot = writer.reserve();
        const done: Promise<void> = this.finalize(p).then((failure) => failure ?? OK_CMD_FINISHED, (err: unknown) => strerror(err))
          .then((reply) => {
            writer.fill(slot, reply);
            this.finishing.delete(p.real, done);
            this.releaseSoon();
          });
        this.finishing.set(p.real, done);
        return false;
      }
    }
    await this.conn.sendLine(outcome?.error ?? OK_CMD_FINISHED);
    return false;
  }

  /**
   * Put a received file in place: its fsync has finished, nothing changed it here
   * meanwhile (checked unless a command on it just did), then rename and row
   * under the db lock. Returns the error text, or null.
   */
  private async finalize(p: PendingFile): Promise<BStr | null> {
    this.pending.delete(p);
    await this.ctx.store.noCritical();
    const probe: Request = { cmd: 'patch', tags: [], raw: [], name: p.name, real: p.real };
    // What the PATCH's check saw is still there: nothing changed it here meanwhile.
    if (!sameEntry(p.stat, lstatOrNull(p.real)) && this.dirtyHere(probe)) {
      log.debug(0, `${p.name} from ${this.peer ?? '?'}: changed here while its new content was in flight; the received content is dropped.`);
      await p.write.abort();
      return ERR_ALSO_DIRTY;
    }
    // Its own hold on the db lock (from the rename until the row is written): it may run
    // while the session serves another command.
    const { store } = this.ctx;
    let locked = false;
    try {
      const st = await p.write.commit(() => {
        store.enterCritical();
        locked = true;
      });
      forgetDirStats(p.real);
      fileUpdated(this.ctx, p.name, this.peer!, st);
    } catch (err) {
      log.debug(0, `I/O Error '${strerror(err)}' in rsync-patch: ${p.real}`);
      return strerror(err);
    } finally {
      if (locked) store.leaveCritical(false);
    }
    return null;
  }

  private async finalizeAll(): Promise<void> {
    for (const p of this.pending.all()) await this.finalize(p);
    while (this.finishing.size > 0) await Promise.all(this.finishing.values());
  }

  private releaseQueued = false;
  /** Finished files whose replies wait for the ones still finishing (RELEASE_GROUP). */
  private releaseDeferred = 0;

  /**
   * Send what a finished SETIME released, once its change is committed. Only when
   * the session waits for the client (which may be waiting for this reply): a busy
   * session sends it with the others at its reader's next wait. The completions of
   * one loop turn share one commit and one write (it was one of each per file).
   */
  private releaseSoon(): void {
    if (this.lease === null || this.releaseQueued || !(this.conn.reader.waiting || this.replyUrgent)) return;
    if (!this.replyUrgent && this.finishing.size > 0 && ++this.releaseDeferred < RELEASE_GROUP) return;
    this.releaseQueued = true;
    setImmediate(() => {
      this.releaseQueued = false;
      this.releaseNow();
    });
  }

  private releaseNow(): void {
    if (this.lease === null) return; // the session has ended: its last release was done
    const waited = this.releaseWhenCommitted();
    if (waited) void waited.then(() => this.releaseNow());
  }

  /**
   * Commit, then send the held replies. A change is committed before it is
   * acknowledged: a daemon killed after the reply never leaves its database behind
   * the tree, which would make the next push of the file look like a conflict.
   */
  private release(): void {
    this.releaseDeferred = 0;
    this.ctx.store.commit();
    this.conn.writer.flushHeld();
    // Still held behind a reply whose file is not in place yet: it leaves when that one is filled.
    this.replyUrgent &&= this.conn.writer.holdsOutput;
  }

  /**
   * Send an urgent reply now, unless another session is mid-change (then it stays
   * flagged for the next release), and let the event loop turn: a TLS socket takes
   * the next write only after the last one's completion, which comes from the loop,
   * and the commands buffered behind this one would otherwise keep it from turning.
   * Also for a reply's head before a long computation (filecmds.ts sigReply).
   */
  async releaseUrgent(): Promise<void> {
    if (this.ctx.store.criticalOpen) return;
    this.release();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** The reader is about to wait: release the replies once no other session is mid-change. */
  private releaseWhenCommitted(): Promise<void> | void {
    const store = this.ctx.store;
    if (store.criticalOpen) return store.noCritical();
    this.release();
  }

  /**
   * The last name checkAccess() let through: a file's XPATCH, SETOWN, SETMOD and SETIME come one
   * after the other, and the answer stays the same while the directories above it are (dirstat).
   */
  private lastAccess: { name: BStr; raw: BStr; key: BStr; peer: BStr | null; compare: boolean; real: BStr; generation: number } | null = null;

  /** Confinement and permission; returns the refusal line or null. Sets req.real. */
  private checkAccess(spec: CommandSpec, req: Request): BStr | null {
    const last = this.lastAccess;
    const raw = req.raw[2] ?? '';
    // Not at -vv and above: each check prints its pattern matches there, as csync2's does.
    if (last !== null && !log.enabled(2) && last.name === req.name && last.raw === raw && last.key === req.tags[1] && last.peer === this.peer
      && last.compare === (spec.perm === 2) && (!spec.touches || (last.generation >= 0 && last.generation === dirStatGeneration()))) {
      req.real = last.real;
      return null;
    }
    const refusal = this.checkAccessNow(spec, req);
    this.lastAccess = refusal !== null ? null : {
      name: req.name, raw, key: req.tags[1]!, peer: this.peer, compare: spec.perm === 2, real: req.real,
      // A check without the symlink test stands only for commands that need none.
      generation: spec.touches ? dirStatGeneration() : -1,
    };
    return refusal;
  }

  private checkAccessNow(spec: CommandSpec, req: Request): BStr | null {
    const resolved = resolveName(this.ctx.cfg, req.name, req.raw[2] ?? '');
    if (!resolved.ok) return this.refuse(req, resolved.why);
    req.real = resolved.real;
    const perm = this.permission(req.name, req.tags[1]!, spec.perm === 2);
    if (perm === 2) {
      markDirty(this.ctx, req.name, this.peer);
      return ERR_PERM_SLAVE;
    }
    if (perm === 1) return this.refuse(req, 'no group with this key lists the peer for this file');
    if (spec.touches) {
      const link = symlinkedDirectory(this.ctx.cfg, req.name);
      if (link !== null) return this.refuse(req, `the path leads through the symlink ${link}`);
    }
    return null;
  }

  /** csync_perm(), in compare mode for TYPE. */
  permission(name: BStr, key: BStr, compareMode: boolean): 0 | 1 | 2 {
    const m = this.ctx.matcher;
    if (!compareMode) return m.perm(name, key, this.peer);
    m.compareMode = true;
    try {
      return m.perm(name, key, this.peer);
    } finally {
      m.compareMode = false;
    }
  }

  /** Log a refused command (level 0) and return the reply a real client counts as an error. */
  refuse(req: Request, why: string): BStr {
    log.debug(0, `Refused ${req.cmd.toUpperCase()} ${req.name} from ${this.peer ?? '?'} (${this.conn.peerIp ?? 'unknown address'}): ${why}.`);
    return ERR_PERM;
  }

  /** csync_check_dirty(): local check first; FLUSH stops there. Leaves the path's lstat() in req.stat. */
  private dirtyHere(req: Request): boolean {
    const { ctx } = this;
    ctx.store.beginBatch(); // the command writes rows after this check: its queries go inside that transaction
    const st = lstatOrNull(req.real);
    req.stat = st;
    // Nothing at the path and no row of it (most of a first push): the check has nothing
    // to do, and one query tells that and whether a dirty row exists.
    let rows: { file: boolean; dirty: boolean } | null = null;
    if (st === null && checkRoots(ctx.cfg, req.name).length === 1) {
      rows = ctx.store.rowsOf(req.name);
      if (rows.file) rows = null;
    }
    if (rows === null) new Checker(ctx).check(req.name, false, { real: req.real, st });
    if (req.cmd === 'flush') return false;
    if (!(rows?.dirty ?? ctx.store.isDirty(req.name))) return false;
    markDirty(ctx, req.name, this.peer);
    return true;
  }

  /** GROUP <list>. */
  group(list: BStr): Outcome {
    if (this.groupListSet) return { error: ERR_GROUP_ALREADY_SET };
    this.groupListSet = true;
    this.lastAccess = null;
    disableGroupsForGroupCommand(this.ctx.cfg, list);
    return null;
  }

  private inCritical = false;

  /** Hold the db's write lock over a change and its row (see StateStore.enterCritical). */
  private enterCritical(): void {
    if (this.inCritical) return;
    this.ctx.store.enterCritical();
    this.inCritical = true;
  }

  /** The lock stays until the burst's commit (release()). */
  private leaveCritical(): void {
    if (!this.inCritical) return;
    this.inCritical = false;
    this.ctx.store.leaveCritical(false);
  }

  /**
   * How content writes are made here. With -A (csync2's "asynchronous mode", which
   * already gives up the database's safety when the system crashes) received files
   * and their directories are not flushed either, as csync2 never does: a killed
   * daemon still leaves no half-written file (temp file and rename stay).
   */
  applyOptions(): ApplyOptions {
    const cfg = this.ctx.cfg;
    const durable = !this.opts.asyncDb;
    return {
      tempdir: cfg.tempdir, ignoreUid: cfg.ignoreUid, ignoreGid: cfg.ignoreGid, durable,
      changedDirs: durable ? this.changedDirs : undefined, beforeReplace: () => this.enterCritical(),
    };
  }

  /** After the loop: csync_run_commands(), then the database is committed (csync_db_close()). */
  private async finish(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    this.lease = null;
    try {
      await syncDirectories(this.changedDirs);
      lease.commit();
      await lease.runActions();
    } finally {
      lease.release();
    }
  }
}

/** The same lstat() answer: both missing, or the same version of the same inode. */
function sameEntry(a: Stats | null | undefined, b: Stats | null): boolean {
  if (a === undefined) return false;
  if (a === null || b === null) return a === b;
  return sameVersion(a, b);
}

/** csync_unlink(file, 1 or 2) before MK* / PATCH: errors are ignored (kept in req.unlinkError). Sets req.removedBefore. */
function removeBefore(req: Request, how: 1 | 2): void {
  const st = req.stat === undefined ? lstatOrNull(req.real) : req.stat;
  req.removedBefore = false;
  if (st === null) return;
  if (how === 2 && st.isFile()) return;
  try {
    if (st.isDirectory()) rmdirSync(fsPath(req.real));
    else unlinkSync(fsPath(req.real));
    req.removedBefore = true;
  } catch (err) {
    req.unlinkError = err; // csync2 ignores it; the command itself then fails
  }
}

/** An error the worker reported, as the Error strerror() reads. */
function stepError(e: StepError): Error {
  return Object.assign(new Error(e.message), { code: e.code });
}

/** Read a refused command's data to its end: one frame, or a chunked run (FRAME_CHUNKED). */
async function drainFrame(reader: LineReader, size: number): Promise<void> {
  try {
    for await (const chunk of reader.readPayload(size)) void chunk;
  } catch (err) {
    if (!(err instanceof ChunkedAbort)) throw err;
  }
}
