/**
 * One dirty row pushed to one peer (update.c csync_update_file_mod and
 * csync_update_file_del, protocol.md §6.2–§6.4), written for a pipelined
 * connection: the read-only SIG goes out ahead of the jobs before it, and
 * everything that changes the peer waits for this job's turn, so the peer
 * sees every change in csync2's sequential order. A SIG that failed while
 * earlier changes were still unsent is asked again in turn (a parent
 * directory may have been about to be created), so results equal csync2's.
 */
import type { Stats } from 'node:fs';
import type { Config } from '../config/model.js';
import { prefixSubst } from '../config/prefix.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, fileType, genChecktxt, mtimeSeconds, readLinkTarget } from '../fs/checktxt.js';
import { type ErrorCounter, type PeerLink, type Status, isOkStatus } from '../net/client.js';
import { CHECKTXT_LINE_MAX, VALUE_LINE_MAX } from '../protocol/limits.js';
import { OK_CMD_FINISHED, ReplyCode, SIGT_COMMAND, XPATCHA_COMMAND, XPATCH_COMMAND, XPATCHS_COMMAND } from '../protocol/replies.js';
import { urlEncode } from '../protocol/urlencode.js';
import type { BStr } from '../util/bytes.js';
import { log, type DebugSink } from '../util/log.js';
import { atol, autoDecision, measuredTestCommand, measuredTestName, measuredTestWon, winsAsMaster } from './conflict.js';
import type { RunContext } from './context.js';
import { JobOut } from './update-jobout.js';
import type { CommandPipe, JobIo } from './update-pipe.js';
import { lstatName } from './update-pure.js';
import {
  EARLY_SIGNATURE_MIN, deltaAhead, earlySignature, rsCheck, rsDelta, sendDeltaAgainst, sendDeltaStreamed, sendLiteralDelta,
} from './update-rsync.js';
import { signatureDigest } from '../protocol/xpatch.js';

const STAYS_DIRTY = 'File stays in dirty state. Try again later...';
/** PATCH of a file this big (to a peer without XPATCH) begins its delta against SIG's signature. */
const DELTA_AHEAD_MIN = 1 << 20;
/** Prefix of our extra line naming the peer's error reply (tests comparing with csync2 drop it). */
export const PEER_SAID = 'Error reply from';
/** readlink() into csync2's 1024-byte buffer reads at most 1023 bytes. */
const LINK_TARGET_MAX = 1023;

/** What a job needs from its peer session. */
export interface JobSession {
  readonly ctx: RunContext;
  readonly cfg: Config;
  readonly peer: BStr;
  readonly dryRun: boolean;
  readonly link: PeerLink;
  readonly pipe: CommandPipe;
  /** A directory's SETIME, sent once the pass is over (its contents changed its mtime on the peer). */
  deferSetime(entry: DeferredSetime): void;
  /** The peer takes XPATCH (our daemon; replies.ts). */
  readonly xpatch: boolean;
  /** The peer takes XPATCHS too (extensions version 2). */
  readonly xpatchStream: boolean;
  /** The peer takes XPATCHA: XPATCH with the file's SETOWN, SETMOD and SETIME on its line (extensions version 5). */
  readonly xpatchAttributes: boolean;
  /** Resolves once a job has queued MKDIR of `dir` (a SIG sent after that finds the directory). */
  directoryQueued(dir: BStr): Promise<void>;
  /** This job queued MKDIR of `dir`; `created`: the peer had nothing there (its SIG said so). */
  queuedDirectory(dir: BStr, created: boolean): void;
  /**
   * A job of this session queued MKDIR of `dir` where the peer had nothing, and the peer takes a
   * creation without a SIG below it (extensions v4): its entries need no SIG of their own. A
   * promise while the job of `dir` may still queue its MKDIR.
   */
  createsDirectorySoon(dir: BStr): boolean | Promise<boolean>;
  /** The job of `name` has ended (it queued no MKDIR, or did already). */
  jobOver(name: BStr): void;
  /** The job's row was cleared (it arrived, or was found up to date). */
  rowCleared(file: BStr): void;
}

/** A delta for a file above this size is streamed (XPATCHS) where the peer takes it. */
const XPATCH_STREAM_MIN = 1 << 20;

/** A regular file up to this size goes by XPATCH even when the peer has a version (literals cost little). */
const XPATCH_SMALL = 16 * 1024;

export interface DeferredSetime {
  file: BStr;
  key: BStr;
  mtime: number;
  /** The job had won an auto-resolve: success takes its error back. */
  autoResolved: boolean;
}

/** The order in which jobs may change the peer: each job waits for the one before. */
export class Ticket {
  private released = false;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;
  /** Set once every earlier job has released its turn. */
  ready = false;
  readonly whenReady: Promise<void>;

  constructor(prev: Ticket | null) {
    this.done = new Promise<void>((r) => { this.resolveDone = r; });
    this.whenReady = prev ? prev.done.then(() => { this.ready = true; }) : Promise.resolve().then(() => { this.ready = true; });
    if (!prev) this.ready = true;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.resolveDone();
  }
}

/** Decisions shared by the jobs of one pass, taken in job order. */
export interface PassGate {
  /** Called with the turn held: false = this job never runs (a restart or a skip decided before it). */
  admit(job: FileJob): boolean;
  /** This job's SIG found the parent directory missing on the peer (with the turn held). */
  parentMissing(job: FileJob): void;
}

export type JobKind = 'del' | 'mod';

export class FileJob implements JobIo {
  out = new JobOut();
  errors: ErrorCounter = { value: 0 };
  /** The last plain error reply of the peer (named at -v when the file stays dirty). */
  private peerError: Status | null = null;
  /** csync2's last_conn_status of a modification. */
  result: ReplyCode = ReplyCode.OK;
  /** False: the job never ran in csync2's order; drop its output and errors. */
  admitted = true;
  /** Bytes of delta sent (progress). */
  sent = 0;
  /** Its row was cleared (it arrived, or was up to date). */
  cleared = false;

  constructor(readonly s: JobSession, readonly file: BStr, readonly forced: boolean, readonly kind: JobKind,
    readonly index: number, readonly ticket: Ticket, private readonly gate: PassGate) {}

  async run(): Promise<void> {
    try {
      if (this.kind === 'del') await this.runDel();
      else await this.runMod();
    } finally {
      this.ticket.release();
      if (this.kind === 'mod') this.s.jobOver(this.file);
    }
  }

  /** Wait for the turn and ask the gate; false = abandon. */
  private async takeTurn(): Promise<boolean> {
    await this.ticket.whenReady;
    if (!this.gate.admit(this)) {
      this.admitted = false;
      this.out.drop();
      return false;
    }
    return true;
  }

  private freshAttempt(): void {
    this.out.drop();
    this.out = new JobOut();
    this.errors = { value: 0 };
    this.peerError = null;
  }

  private async readStatus(): Promise<Status> {
    const status = await this.s.link.readStatus(this.file, this.out, this.errors);
    if (status.code === ReplyCode.ERROR || status.code === ReplyCode.PERM) this.peerError = status;
    return status;
  }

  private request(line: BStr): Promise<Status> {
    return this.s.pipe.request(this, line, () => this.readStatus());
  }

  // ---- modification (csync_update_file_mod) ---------------------------------

  private async runMod(): Promise<void> {
    const { s, file } = this;
    const key = s.ctx.matcher.withDebugOut(this.out, () => s.ctx.matcher.key(s.peer, file));
    if (key === null) {
      if (!(await this.takeTurn())) return;
      this.out.debug(2, `Skipping file update ${file} on ${s.peer} - not in my groups.`);
      this.result = ReplyCode.ERROR;
      return;
    }
    let force = this.forced;
    let autoResolveRun = false;
    /** The last SIG found no file on the peer, or brought the signature of its regular file. */
    let peerMissing = false;
    /** ... and will refuse its creation (SigResult.peerRefusesCreation). */
    let peerRefuses = false;
    let peerSig: Buffer | undefined;
    /** ... or one too big to keep: a delta against it would be no smaller than literals. */
    let peerSigDropped = false;
    /** The local file's signature the last SIG's check made, if it made one. */
    let mySig: Buffer | undefined;
    let haveTurn = false;
    const turn = async (): Promise<boolean> => {
      if (haveTurn) return true;
      haveTurn = true;
      return this.takeTurn();
    };

    for (;;) { // auto_resolve_entry_point
      this.out.debug(1, `Updating ${file} on ${s.peer} ...`);
      const st = lstatName(s.cfg, file);
      if (st === null) {
        if (!(await turn())) return;
        this.out.debug(0, `ERROR: Cant stat ${file}.`);
        this.errors.value++;
        this.result = ReplyCode.ERROR;
        return this.gotError(autoResolveRun);
      }
      const type = fileType(st.mode);

      if (force) {
        if (!(await turn())) return;
        if (s.dryRun) {
          this.out.stdout(`!M: ${pad15(s.peer)} ${file}`);
          return;
        }
        const r = await this.request(`FLUSH ${urlEncode(key)} ${urlEncode(file)}`);
        this.result = r.code;
        if (!isOkStatus(r)) return this.gotError(autoResolveRun);
        peerMissing = false;
        peerRefuses = false;
        peerSig = undefined;
        peerSigDropped = false;
        mySig = undefined;
      } else {
        const speculative = !this.ticket.ready && !haveTurn;
        const parent = file.slice(0, Math.max(0, file.lastIndexOf('/')));
        // Below a directory this session is creating on the peer there is nothing yet: no SIG
        // (extensions v4; the creation says `Parent dir missing.` if its MKDIR failed after all).
        // When the directory's own job is still to decide, this one waits for that, not for a reply.
        let sig: SigResult;
        const below = s.dryRun || log.enabled(2) ? false : s.createsDirectorySoon(parent);
        if (below === true || (below !== false && await below)) sig = NOTHING_THERE;
        else sig = await this.sig(key, st);
        if (!sig.ok && speculative && sig.status.code === ReplyCode.PARENT_MISSING && !this.ticket.ready) {
          // Asked before the parent's MKDIR was sent (a new directory's contents): ask again, still
          // ahead of the turn, once an earlier job has queued it. Taking turns for these SIGs cost a
          // round trip per entry of every new directory.
          const turnFirst = await Promise.race([this.ticket.whenReady.then(() => true), s.directoryQueued(parent).then(() => false)]);
          if (!turnFirst) {
            this.freshAttempt();
            this.out.debug(1, `Updating ${file} on ${s.peer} ...`);
            sig = await this.sig(key, st);
          }
        }
        if (!sig.ok && speculative) {
          // Asked before the changes ahead of it were sent: ask again in turn.
          if (!(await turn())) return;
          this.freshAttempt();
          this.out.debug(1, `Updating ${file} on ${s.peer} ...`);
          sig = await this.sig(key, st);
        }
        if (!(await turn())) return;
        this.result = sig.status.code;
        if (!sig.ok) return this.sigFailed(autoResolveRun);
        peerMissing = sig.peerMissing === true;
        peerRefuses = sig.peerRefusesCreation === true;
        peerSig = sig.peerSig;
        peerSigDropped = sig.peerSigDropped === true;
        mySig = sig.mySig;
        if (!sig.differs) {
          this.out.debug(1, 'File is already up to date on peer.');
          if (s.dryRun) this.out.stdout(`?S: ${pad15(s.peer)} ${file}`);
          return this.finishMod(key, st, autoResolveRun);
        }
        if (s.dryRun) {
          this.out.stdout(`?M: ${pad15(s.peer)} ${file}`);
          return;
        }
      }

      // Create or patch.
      let first: Status;
      if (type === S_IFREG) {
        // XPATCH where it needs no signature round trip: literals for a new or small file, a delta
        // against what SIG brought; else (after a FLUSH, say) PATCH and its signature exchange.
        let p: PatchExchange;
        const { xpatch } = s;
        if (xpatch && (peerMissing || peerSigDropped || st.size <= XPATCH_SMALL)) p = await this.xpatchNow(key, st, null);
        else if (xpatch && peerSig !== undefined) p = await this.xpatchNow(key, st, peerSig, s.xpatchStream && st.size > XPATCH_STREAM_MIN, mySig);
        else p = await this.patch(key, peerSig !== undefined && st.size >= DELTA_AHEAD_MIN && !log.enabled(3) ? peerSig : null, mySig);
        // Nothing after a regular file depends on it: later jobs may go on.
        this.ticket.release();
        first = await p.first;
        if (isOkStatus(first)) {
          const fin = await p.final!;
          this.result = fin.code;
          if (!p.deltaOk || !isOkStatus(fin)) return this.gotError(autoResolveRun);
          if (p.attributes) return this.attributesReplied(p.attributes, autoResolveRun);
        }
      } else {
        const cmd = createCommand(type, key, file, s.cfg);
        if (cmd === null) {
          this.out.debug(1, `File type (mode=${st.mode.toString(8)}) is not supported.`);
          return this.gotError(autoResolveRun);
        }
        if ('error' in cmd) {
          this.out.debug(1, 'File is a symlink but radlink() failed.');
          return this.gotError(autoResolveRun);
        }
        const reply = this.request(cmd.line);
        // Nothing can be below a symlink, fifo, device or socket: later jobs may go on at once
        // (their commands queue behind this one). A directory's wait for its reply keeps
        // csync2's order when it is retried after an auto-resolved conflict, and its SETOWN and
        // SETMOD before its contents; where neither matters, later jobs go on too (a round trip
        // per new directory was most of the push of a tree of small directories).
        if (type === S_IFDIR) s.queuedDirectory(file, peerMissing && !peerRefuses && !autoResolveRun);
        if (type !== S_IFDIR || (!autoResolveRun && peerMissing && this.directoryOrderFree(st))) this.ticket.release();
        first = await reply;
      }
      this.result = first.code;
      // A creation sent without a SIG (createsDirectorySoon()) found the parent missing, as the SIG would have.
      if (first.code === ReplyCode.PARENT_MISSING) return this.sigFailed(autoResolveRun);
      if (!isOkStatus(first)) {
        // maybe_auto_resolve
        if (!autoResolveRun && first.code === ReplyCode.ALSO_DIRTY) {
          const won = await this.autoResolveMod(key);
          if (won === 'error') {
            this.out.debug(0, 'ERROR: Auto-resolving failed. Giving up.');
            this.out.debug(1, STAYS_DIRTY);
            return;
          }
          if (won) {
            autoResolveRun = true;
            force = true;
            continue;
          }
        }
        return this.gotError(autoResolveRun);
      }
      return this.setAttributes(key, st, autoResolveRun);
    }
  }

  /** SETOWN, SETMOD, SETIME (csync2's tail of a created or patched entry), then the dirty row goes. */
  private async setAttributes(key: BStr, st: Stats, autoResolveRun: boolean): Promise<void> {
    const { s, file } = this;
    const type = fileType(st.mode);
    const k = urlEncode(key);
    const f = urlEncode(file);
    // Signed, as csync2's %d prints them (the daemon's atoi() takes either spelling).
    const lines = [`SETOWN ${k} ${f} ${st.uid | 0} ${st.gid | 0}`];
    if (type !== S_IFLNK) lines.push(`SETMOD ${k} ${f} ${st.mode}`);
    const deferTime = type === S_IFDIR;
    if (type !== S_IFLNK && !deferTime) lines.push(`SETIME ${k} ${f} ${mtimeSeconds(st)}`);
    // Written together; after the first failure csync2 would have sent no more,
    // so later replies are read without counting or printing anything.
    const read = this.attributeReader();
    const replies = lines.map((line) => this.s.pipe.request(this, line, read));
    if (deferTime) this.ticket.release();
    if (!(await this.attributesOk(replies, autoResolveRun))) return;
    if (deferTime) {
      s.deferSetime({ file, key, mtime: mtimeSeconds(st), autoResolved: autoResolveRun });
      return;
    }
    this.success(autoResolveRun);
  }

  /**
   * The reader of one reply of a file's SETOWN/SETMOD/SETIME: after the first failure csync2 would
   * have sent no more, so the later replies (of commands sent together) are read without a word.
   */
  private attributeReader(): () => Promise<Status> {
    let failed: Status | null = null;
    return async () => {
      if (failed) {
        await this.s.link.readStatus(null, SILENT, { value: 0 });
        return failed;
      }
      const r = await this.readStatus();
      if (!isOkStatus(r)) failed = r;
      return r;
    };
  }

  /** The attribute replies in order; false (and the error counted) at the first failure. */
  private async attributesOk(replies: Promise<Status>[], autoResolveRun: boolean): Promise<boolean> {
    for (const r of replies) {
      const st = await r;
      this.result = st.code;
      if (!isOkStatus(st)) {
        this.gotError(autoResolveRun);
        return false;
      }
    }
    return true;
  }

  /** XPATCHA's SETOWN, SETMOD and SETIME replies (a regular file: all three), then the dirty row goes. */
  private async attributesReplied(replies: Promise<Status>[], autoResolveRun: boolean): Promise<void> {
    if (await this.attributesOk(replies, autoResolveRun)) this.success(autoResolveRun);
  }

  /** skip_action: SETIME (not for symlinks; later for directories), then the dirty row goes. */
  private async finishMod(key: BStr, st: Stats, autoResolveRun: boolean): Promise<void> {
    const type = fileType(st.mode);
    if (type === S_IFDIR) {
      this.ticket.release();
      this.s.deferSetime({ file: this.file, key, mtime: mtimeSeconds(st), autoResolved: autoResolveRun });
      return;
    }
    if (type !== S_IFLNK) {
      this.ticket.release();
      const r = await this.request(`SETIME ${urlEncode(key)} ${urlEncode(this.file)} ${mtimeSeconds(st)}`);
      this.result = r.code;
      if (!isOkStatus(r)) return this.gotError(autoResolveRun);
    }
    this.success(autoResolveRun);
  }

  /** A SIG (or the creation standing for it) that failed; `Parent dir missing.` starts the walk over. */
  private sigFailed(autoResolveRun: boolean): void {
    if (this.result !== ReplyCode.OK) this.out.debug(3, 'error from peer');
    this.gotError(autoResolveRun);
    if (this.result === ReplyCode.PARENT_MISSING) this.gate.parentMissing(this);
  }

  private success(autoResolveRun: boolean): void {
    this.cleared = true;
    this.s.ctx.store.deleteDirty(this.file, this.s.peer);
    this.s.rowCleared(this.file);
    if (autoResolveRun) this.errors.value--;
  }

  private gotError(autoResolveRun: boolean): void {
    if (autoResolveRun) this.out.debug(0, 'ERROR: Auto-resolving failed. Giving up.');
    // Beyond csync2 (which shows the peer's reason only at -vvv): say why at -v.
    if (this.peerError) this.out.debug(1, `${PEER_SAID} ${this.s.peer}: ${this.peerError.line}`);
    this.out.debug(1, STAYS_DIRTY);
  }

  /** `SIG` and the whole of its reply, compared with the local entry (null = it is gone here). */
  private sig(key: BStr, st: Stats | null): Promise<SigResult> {
    const { s, file } = this;
    const isReg = st !== null && fileType(st.mode) === S_IFREG;
    // Only for a file big enough to get its signature made early (an AbortController per file costs).
    const stopEarly = isReg && st.size >= EARLY_SIGNATURE_MIN ? new AbortController() : null;
    const early = stopEarly ? earlySignature(s.cfg, file, stopEarly.signal) : null;
    // Nothing here to compare with: the peer's signature matters by its size only (SIGT, extensions v3).
    const sizeOnly = st === null && s.link.conn.extensionVersion >= 3;
    return s.pipe.request(this, `${sizeOnly ? SIGT_COMMAND : 'SIG'} ${urlEncode(key)} ${urlEncode(file)}`, async () => {
      const status = await this.readStatus();
      // The peer has no such file (or refused): a local signature compares with nothing.
      if (!isOkStatus(status) || status.code === ReplyCode.OK_PATH_NOT_FOUND || status.code === ReplyCode.OK_NOT_FOUND) stopEarly?.abort();
      if (st === null && status.code === ReplyCode.PARENT_MISSING) return { ok: true, differs: false, status, gone: true };
      if (!isOkStatus(status)) return { ok: false, differs: false, status };
      const peerTxt = await s.link.conn.reader.readLine(CHECKTXT_LINE_MAX);
      if (peerTxt === null) return { ok: false, differs: false, status };
      const myTxt = st ? genChecktxt(st, file, s.cfg, true) : '---';
      let differs = false;
      for (let i = 0; i < peerTxt.length && i < myTxt.length; i++) {
        if (peerTxt.charCodeAt(i) !== myTxt.charCodeAt(i)) {
          this.out.debug(2, st ? `File ${file} is different on peer (cktxt char #${i}).` : `File is different on peer (cktxt char #${i}).`);
          this.out.debug(2, `>>> PEER:  ${peerTxt}\n>>> LOCAL: ${myTxt}`);
          differs = true;
          break;
        }
      }
      // Known to differ: the signatures' comparison can only add its -vv lines, so it is not made.
      const decided = differs && !log.enabled(2);
      if (decided) stopEarly?.abort();
      // The peer's signature outlives the check as an XPATCH basis, or for a delta made ahead of PATCH's.
      const keep = s.xpatch || (isReg && st.size >= DELTA_AHEAD_MIN)
        ? { peerSig: null as Buffer | null, mySig: null as Buffer | null, dropped: false } : undefined;
      const rs = await rsCheck(s.link, this.out, s.cfg, file, isReg, keep, decided ? null : early, sizeOnly, decided);
      if (rs < 0) return { ok: false, differs, status };
      if (rs > 0) {
        this.out.debug(2, 'File is different on peer (rsync sig).');
        differs = true;
      }
      const end = await this.readStatus();
      if (!isOkStatus(end)) return { ok: false, differs, status: end };
      const peerMissing = status.code === ReplyCode.OK_PATH_NOT_FOUND || status.code === ReplyCode.OK_NOT_FOUND;
      // A regular file's signature (the peer's checktxt says so) can be the basis of an XPATCH.
      const peerSig = !peerMissing && peerTxt.includes(':type=reg:') ? keep?.peerSig ?? undefined : undefined;
      // `OK (not_found).`: nothing there, but our v4 daemon has rows of it (or csync2's impure-directory case).
      const peerRefusesCreation = status.code === ReplyCode.OK_NOT_FOUND;
      return {
        ok: true, differs, status: end, peerMissing, peerSig, mySig: keep?.mySig ?? undefined, peerSigDropped: keep?.dropped === true,
        peerRefusesCreation,
      };
    });
  }

  /**
   * XPATCH: the command and the delta written at once (no signature to wait
   * for): the whole file as literals, or a delta against `basis`, the
   * signature the SIG brought, named by its digest so the peer can tell that
   * its file is still that one. Its one reply stands for PATCH's first and final.
   * XPATCHA (extensions v5, not streamed) carries the file's SETOWN, SETMOD and
   * SETIME arguments too: their replies follow XPATCH's when that one is OK.
   */
  private xpatchNow(key: BStr, st: Stats, basis: Buffer | null, streamed = false, mySig?: Buffer): Promise<PatchExchange> {
    const { s, file } = this;
    const withAttributes = s.xpatchAttributes && !streamed;
    return s.pipe.exclusive(this, async (w) => {
      const k = urlEncode(key);
      const f = urlEncode(file);
      // The same arguments setAttributes() sends (SETOWN's signed as csync2's %d prints them).
      const line = withAttributes
        ? `${XPATCHA_COMMAND} ${k} ${f} ${st.uid | 0} ${st.gid | 0} ${st.mode} ${mtimeSeconds(st)}`
        : `${streamed ? XPATCHS_COMMAND : XPATCH_COMMAND} ${k} ${f}`;
      w.line(basis === null ? line : `${line} ${signatureDigest(basis)}`);
      s.pipe.tapWrites(this);
      const d = basis === null
        ? await sendLiteralDelta(s.link, this.out, s.cfg, file)
        : streamed
          ? await sendDeltaStreamed(s.link, this.out, s.cfg, file, basis, mySig)
          : await sendDeltaAgainst(s.link, this.out, s.cfg, file, basis, mySig);
      this.sent += d.sent;
      const reply = w.expect(() => this.readStatus());
      if (!withAttributes) return { first: reply, deltaOk: d.ok, final: reply };
      // The daemon sends them only after an OK; their readers are queued now, behind XPATCH's.
      const read = this.attributeReader();
      const attributes = [0, 1, 2].map(() => w.expect(async () => (isOkStatus(await reply) ? read() : null)));
      // Not awaited when the job ends early (its XPATCH failed, or the connection broke).
      for (const a of attributes) a.catch(() => undefined);
      return { first: reply, deltaOk: d.ok, final: reply, attributes: attributes as Promise<Status>[] };
    });
  }

  /**
   * PATCH: the reply, the peer's signature and our delta with the writer held; the final reply later.
   * With `basis` (the signature SIG brought) the delta is begun at once, against it (rsDelta deltaAhead).
   */
  private patch(key: BStr, basis: Buffer | null = null, mySig?: Buffer): Promise<PatchExchange> {
    const { s, file } = this;
    const ahead = basis !== null ? deltaAhead(s.cfg, file, basis, mySig) : null;
    return s.pipe.exclusive(this, async (w) => {
      w.line(`PATCH ${urlEncode(key)} ${urlEncode(file)}`);
      const head = await w.expect(async () => {
        const first = await this.readStatus();
        if (!isOkStatus(first)) return { first, deltaOk: false };
        s.pipe.tapWrites(this);
        const d = await rsDelta(s.link, this.out, s.cfg, file, ahead);
        this.sent += d.sent;
        return { first, deltaOk: d.ok };
      });
      if (!isOkStatus(head.first)) return { ...head, final: null };
      return { ...head, final: w.expect(() => this.readStatus()) };
    }).finally(() => ahead?.cancel()); // refused, sent or failed: no longer wanted (a second cancel() does nothing)
  }

  /**
   * maybe_auto_resolve's tests that need nothing from the peer: true = won, false = lost or
   * no method; otherwise the measured method (younger/older/bigger/smaller) still to decide.
   */
  private autoResolveHere(): boolean | 'younger' | 'older' | 'bigger' | 'smaller' {
    // Their `Match` lines belong to this job's output.
    const m = this.conflictDecision(this.out);
    switch (m) {
      case 'master':
        this.out.debug(0, "Auto-resolving conflict: Won 'master/slave' test.");
        return true;
      case 'none': return false;
      case 'first':
        this.out.debug(0, "Auto-resolving conflict: Won 'first' test.");
        return true;
      case 'left':
      case 'right':
        this.out.debug(0, "Auto-resolving conflict: Won 'left/right' test.");
        return true;
      case 'left-right-lost':
        this.out.debug(0, "Do not auto-resolve conflict: Lost 'left/right' test.");
        return false;
      default:
        return m;
    }
  }

  /** The conflict tests of maybe_auto_resolve for a modification: true = won, 'error' = a failed GETTM/GETSZ read. */
  private async autoResolveMod(key: BStr): Promise<boolean | 'error'> {
    const { s, file } = this;
    const m = this.autoResolveHere();
    if (typeof m === 'boolean') return m;
    const cmd = measuredTestCommand(m);
    const type = measuredTestName(m);
    const reply = await s.pipe.request(this, `${cmd} ${urlEncode(key)} ${urlEncode(file)}`, async () => {
      const st = await this.readStatus();
      if (!isOkStatus(st)) return { st, value: null };
      return { st, value: await s.link.conn.reader.readLine(VALUE_LINE_MAX) };
    });
    this.result = reply.st.code;
    if (!isOkStatus(reply.st)) {
      // csync2 jumps to got_error here: no "Auto-resolving failed".
      return false;
    }
    if (reply.value === null) return 'error';
    const remote = atol(reply.value);
    let local = 0;
    if (remote !== -1) {
      const st = lstatName(s.cfg, file);
      if (st === null) return 'error';
      local = cmd === 'GETTM' ? mtimeSeconds(st) : st.size;
    }
    if (measuredTestWon(m, local, remote)) {
      this.out.debug(0, `Auto-resolving conflict: Won '${type}' test.`);
      return true;
    }
    this.out.debug(0, `Do not auto-resolve conflict: Lost '${type}' test.`);
    return false;
  }

  // ---- removal (csync_update_file_del) --------------------------------------

  private async runDel(): Promise<void> {
    const { s, file } = this;
    const key = s.ctx.matcher.withDebugOut(this.out, () => s.ctx.matcher.key(s.peer, file));
    if (key === null) {
      if (!(await this.takeTurn())) return;
      this.out.debug(2, `Skipping deletion ${file} on ${s.peer} - not in my groups.`);
      return;
    }
    let force = this.forced;
    let autoResolveRun = false;
    let haveTurn = false;
    const turn = async (): Promise<boolean> => {
      if (haveTurn) return true;
      haveTurn = true;
      return this.takeTurn();
    };
    for (;;) {
      this.out.debug(1, `Deleting ${file} on ${s.peer} ...`);
      if (force) {
        if (!(await turn())) return;
        if (s.dryRun) {
          this.out.stdout(`!D: ${pad15(s.peer)} ${file}`);
          return;
        }
        const r = await this.request(`FLUSH ${urlEncode(key)} ${urlEncode(file)}`);
        if (!isOkStatus(r)) return this.gotError(autoResolveRun);
      } else {
        const speculative = !this.ticket.ready && !haveTurn;
        let sig = await this.sig(key, null);
        if (!sig.ok && speculative) {
          if (!(await turn())) return;
          this.freshAttempt();
          this.out.debug(1, `Deleting ${file} on ${s.peer} ...`);
          sig = await this.sig(key, null);
        }
        if (!(await turn())) return;
        if (sig.gone) this.errors.value--; // "Parent dir missing." is no error here
        if (!sig.ok) return this.gotError(autoResolveRun);
        if (!sig.differs) {
          this.out.debug(1, 'File is already up to date on peer.');
          if (s.dryRun) this.out.stdout(`?S: ${pad15(s.peer)} ${file}`);
          this.success(autoResolveRun);
          return;
        }
        if (s.dryRun) {
          this.out.stdout(`?D: ${pad15(s.peer)} ${file}`);
          return;
        }
      }
      const reply = this.request(`DEL ${urlEncode(key)} ${urlEncode(file)}`);
      // A DEL that no auto-resolve could send again leaves later jobs (its parent directories among
      // them) nothing to wait for: they go on, their commands queued behind it.
      if (autoResolveRun || !this.removalRetryPossible()) this.ticket.release();
      const r = await reply;
      if (isOkStatus(r)) {
        this.success(autoResolveRun);
        return;
      }
      if (!autoResolveRun && r.code === ReplyCode.ALSO_DIRTY) {
        this.out.raw(0, `auto resolving... response = ${r.code}`);
        if (this.autoResolveDel()) {
          autoResolveRun = true;
          force = true;
          continue;
        }
      }
      return this.gotError(autoResolveRun);
    }
  }

  /** maybe_auto_resolve's test for this file and peer: the master/slave rule, else the group's auto method. */
  private conflictDecision(out: DebugSink): 'master' | ReturnType<typeof autoDecision> {
    const { s, file } = this;
    return s.ctx.matcher.withDebugOut(out, () =>
      (winsAsMaster(s.ctx.matcher, s.peer, file) ? 'master' : autoDecision(s.ctx.matcher, s.peer, file)));
  }

  /**
   * May the contents of a directory the peer lacks go before its MKDIR's reply? Yes when a
   * conflict on it cannot be auto-resolved (no retry to wait for) and its owner may write and enter
   * it, so its SETOWN and SETMOD coming after the contents' commands changes nothing for them (the
   * MKDIR makes it, writable for its owner, the daemon).
   */
  private directoryOrderFree(st: Stats): boolean {
    const m = this.conflictDecision(SILENT);
    return (m === 'none' || m === 'left-right-lost') && (st.mode & 0o300) === 0o300;
  }

  /** Could a conflict on this removal be auto-resolved (and the DEL sent again)? Decided as autoResolveDel() decides, silently. */
  private removalRetryPossible(): boolean {
    const m = this.conflictDecision(SILENT);
    return m === 'master' || m === 'first' || m === 'left' || m === 'right';
  }

  private autoResolveDel(): boolean {
    const m = this.autoResolveHere();
    if (typeof m === 'boolean') return m;
    this.out.debug(0, 'Do not auto-resolve conflict: This is a removal.');
    return false;
  }
}

/** A PATCH or XPATCH in flight: its first reply, whether our delta went out, and its final reply. */
interface PatchExchange {
  first: Status | Promise<Status>;
  deltaOk: boolean;
  final: Promise<Status> | null;
  /** XPATCHA: the replies of its SETOWN, SETMOD and SETIME (read only after XPATCH's OK). */
  attributes?: Promise<Status>[];
}

interface SigResult {
  ok: boolean;
  differs: boolean;
  status: Status;
  /** The peer has no file there (`OK (path_not_found).` / `OK (not_found).`). */
  peerMissing?: boolean;
  /** The signature of the peer's regular file. */
  peerSig?: Buffer;
  /** The peer's signature was too big to keep (update-rsync.ts peerSignatureCap). */
  peerSigDropped?: boolean;
  /** The local file's signature, when the check made one (a delta can be made from the two). */
  mySig?: Buffer;
  /** A removal whose parent directory is missing on the peer: already gone. */
  gone?: boolean;
  /** Nothing on the peer, but its creation there will be refused (a row of it there: removed there). */
  peerRefusesCreation?: boolean;
}

/** What a SIG of an entry in a directory just created says (createsDirectorySoon()). */
const NOTHING_THERE: SigResult = Object.freeze({
  ok: true, differs: true, peerMissing: true, status: Object.freeze({ code: ReplyCode.OK, line: OK_CMD_FINISHED }),
});

/** The create command for a non-regular entry; null = unsupported type. */
function createCommand(type: number, key: BStr, file: BStr, cfg: Config): { line: BStr } | { error: true } | null {
  const k = urlEncode(key);
  const f = urlEncode(file);
  switch (type) {
    case S_IFDIR: return { line: `MKDIR ${k} ${f}` };
    case S_IFCHR: return { line: `MKCHR ${k} ${f}` };
    case S_IFBLK: return { line: `MKBLK ${k} ${f}` };
    case S_IFIFO: return { line: `MKFIFO ${k} ${f}` };
    case S_IFSOCK: return { line: `MKSOCK ${k} ${f}` };
    case S_IFLNK: {
      const target = readLinkOrNull(prefixSubst(cfg, file));
      if (target === null) return { error: true };
      return { line: `MKLINK ${k} ${f} ${urlEncode(target.slice(0, LINK_TARGET_MAX))}` };
    }
    default: return null;
  }
}

function readLinkOrNull(path: BStr): BStr | null {
  const t = readLinkTarget(path);
  // readLinkTarget gives '' on failure; an empty target cannot exist.
  return t === '' ? null : t;
}

function pad15(s: BStr): BStr {
  return s.length >= 15 ? s : s + ' '.repeat(15 - s.length);
}

/** A sink for replies csync2 would never have asked for. */
const SILENT = { debug(): void {} };
