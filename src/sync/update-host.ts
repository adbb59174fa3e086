/**
 * One peer's update session (update.c csync_update_host, protocol.md §6.1):
 * its dirty rows, the connection, deletions deepest first, then creations and
 * changes parents first, HELLO whenever the local name changes, the
 * "Parent dir missing." recovery, deferred directory times, and BYE.
 *
 * The file jobs are pipelined (a bounded window of them in flight on the one
 * connection, see update-file.ts); their output and error counts are released
 * strictly in csync2's order, so what a user sees is what the sequential
 * client prints.
 */
import type { Config } from '../config/model.js';
import { connectToHost, connectionFailedMessage, isOkStatus, type ErrorCounter, type HostConnectOptions, type PeerLink } from '../net/client.js';
import { urlEncode } from '../protocol/urlencode.js';
import type { DirtyRow } from '../db/store.js';
import type { BStr } from '../util/bytes.js';
import { log } from '../util/log.js';
import type { RunContext } from './context.js';
import { markDirty } from './mark.js';
import { FileJob, Ticket, type DeferredSetime, type JobKind, type JobSession, type PassGate } from './update-file.js';
import type { OutNode } from './update-output.js';
import { CommandPipe } from './update-pipe.js';
import { checkPure, lstatName } from './update-pure.js';
import type { PeerProgress } from './progress.js';

/** File jobs in flight on one connection (SIGs asked ahead of the current file). */
const WINDOW = 64;
/**
 * ... with a csync2-ts daemon (extensions agreed on). Its replies to received files wait for
 * their flush (a syncfs() of a few ms on ext4 for each group of files): twice as many jobs keep
 * it busy meanwhile (bench/update tree10k initial push, ext4: 3.3-4.3 -> 3.3-3.9 s).
 */
const WINDOW_EXTENDED = 128;
/**
 * A full window takes new jobs again only once this many slots are free: the next jobs
 * then leave together (one write, one read and one wake-up on each side for several files)
 * instead of one per reply.
 */
const REFILL = 16;
const REFILL_EXTENDED = 32;

export interface HostUpdateOptions {
  ctx: RunContext;
  peer: BStr;
  /** Real names from the command line; null = every row. */
  filter: BStr[] | null;
  recursive: boolean;
  dryRun: boolean;
  connect: Omit<HostConnectOptions, 'peer' | 'out' | 'errors'>;
  out: OutNode;
  errors: ErrorCounter;
  progress: PeerProgress | null;
  /**
   * Only these rows (a late session, update.ts); null or absent = every row the filter selects.
   * The session's own missing-parent marks join it (its walk starts over with them, as csync2's).
   */
  only?: Set<BStr> | null;
  /** Called each time the session reads its dirty rows. */
  onRowsRead?: () => void;
  /**
   * Asked once the walk is done, before BYE: rows marked for this peer since it read them, to walk
   * now on the same connection (update.ts: earlier peers' missing-parent marks).
   */
  lateRows?: () => Promise<Set<BStr>>;
  /** Called with the files a missing parent directory made the session mark dirty (for every peer of their groups). */
  onMarked?: (names: BStr[], parent: BStr) => void;
}

/** compare_files(): a command-line name selects a row (`/` selects all; -r: leading directories too). */
export function rowSelected(filename: BStr, pattern: BStr, recursive: boolean): boolean {
  if (pattern === '/') return true;
  let i = 0;
  while (i < filename.length && i < pattern.length) {
    if (filename.charCodeAt(i) !== pattern.charCodeAt(i)) return false;
    i++;
  }
  if (i < filename.length && filename.charCodeAt(i) === 0x2f && i === pattern.length && recursive) return true;
  return i === filename.length && i === pattern.length;
}

export async function updateHost(o: HostUpdateOptions): Promise<void> {
  const session = new HostSession(o);
  await session.run();
}

class HostSession {
  readonly ctx: RunContext;
  readonly cfg: Config;
  readonly peer: BStr;
  readonly dryRun: boolean;
  link!: PeerLink;
  pipe!: CommandPipe;
  private currentName: BStr | null = null;
  private missingParentDir: BStr | null = null;
  private readonly deferred = new Map<BStr, DeferredSetime & { pass: number }>();
  /** Walks over the rows so far: csync2 forgets the errors of a walk that starts over. */
  private passes = 0;
  /** Passes whose queued directory times count their errors (the last of each walk). */
  private readonly countedPasses = new Set<number>();
  /** Rows restricted to these names (HostUpdateOptions.only, or a late walk's). */
  private only: Set<BStr> | null = null;
  /** Rows this session cleared, and the names of its last pass (what a late walk need not repeat). */
  private readonly cleared = new Set<BStr>();
  private lastPassNames = new Set<BStr>();
  /** The peer takes XPATCH (both ends agreed on csync2-ts's extensions in the TLS handshake). */
  get xpatch(): boolean {
    return this.link.conn.extensions;
  }

  /** ... and XPATCHS (extensions version 2). */
  get xpatchStream(): boolean {
    return this.link.conn.extensionVersion >= 2;
  }

  /** ... and XPATCHA (extensions version 5). */
  get xpatchAttributes(): boolean {
    return this.link.conn.extensionVersion >= 5;
  }

  constructor(private readonly o: HostUpdateOptions) {
    this.ctx = o.ctx;
    this.cfg = o.ctx.cfg;
    this.peer = o.peer;
    this.dryRun = o.dryRun;
  }

  deferSetime(e: DeferredSetime): void {
    const prev = this.deferred.get(e.file);
    this.deferred.delete(e.file);
    // Walked again in a late walk: an auto-resolve of the finished walk still takes its error back.
    const autoResolved = e.autoResolved || (prev !== undefined && prev.autoResolved && this.countedPasses.has(prev.pass));
    this.deferred.set(e.file, { ...e, autoResolved, pass: this.passes });
  }

  /** Jobs waiting for a directory's MKDIR to be queued, by directory name. */
  private readonly dirWaiters = new Map<BStr, { queued: Promise<void>; resolve: () => void }>();
  /** Directories whose MKDIR was queued (a SIG answered after that may still say the parent is missing). */
  private readonly dirsQueued = new Set<BStr>();
  /** ... of those, the ones the peer had nothing at (createsDirectorySoon()). */
  private readonly dirsCreated = new Set<BStr>();

  /**
   * Entries may go without a SIG below a directory this session is creating (extensions v4) -- not
   * after a walk started over for a missing parent: a creation's `Parent dir missing.` comes only
   * after later jobs took their turn, too late for csync2's skip of the subtree below an entry whose
   * parent is the one found missing before; two such subtrees then restarted the walk in turn for ever.
   * There every entry is asked about in turn, as csync2 does.
   */
  private createsWithoutSig(): boolean {
    return this.link.conn.extensionVersion >= 4 && this.missingParentDir === null;
  }

  /**
   * Modification jobs of this pass that may still queue a MKDIR (started, not decided yet), with
   * the jobs below them waiting to know; `null` while nobody waits.
   */
  private readonly undecided = new Map<BStr, { decided: Promise<boolean>; resolve: (created: boolean) => void } | null>();

  createsDirectorySoon(dir: BStr): boolean | Promise<boolean> {
    if (!this.createsWithoutSig()) return false;
    if (this.dirsCreated.has(dir)) return true;
    if (!this.undecided.has(dir)) return false;
    let w = this.undecided.get(dir);
    if (!w) {
      let resolve!: (created: boolean) => void;
      const decided = new Promise<boolean>((r) => { resolve = r; });
      this.undecided.set(dir, (w = { decided, resolve }));
    }
    return w.decided;
  }

  /** The job of `name` made its decision (queued MKDIR where the peer had nothing, or not). */
  private decided(name: BStr, created: boolean): void {
    const w = this.undecided.get(name);
    if (w === undefined) return;
    this.undecided.delete(name);
    w?.resolve(created);
  }

  jobOver(name: BStr): void {
    this.decided(name, false);
  }

  directoryQueued(dir: BStr): Promise<void> {
    if (this.dirsQueued.has(dir)) return Promise.resolve();
    let w = this.dirWaiters.get(dir);
    if (w === undefined) {
      let resolve!: () => void;
      const queued = new Promise<void>((r) => { resolve = r; });
      this.dirWaiters.set(dir, (w = { queued, resolve }));
    }
    return w.queued;
  }

  queuedDirectory(dir: BStr, created: boolean): void {
    this.dirsQueued.add(dir);
    if (created) this.dirsCreated.add(dir);
    this.decided(dir, created);
    const w = this.dirWaiters.get(dir);
    if (w === undefined) return;
    this.dirWaiters.delete(dir);
    w.resolve();
  }

  rowCleared(file: BStr): void {
    this.cleared.add(file);
  }

  private findDirty(): DirtyRow[] {
    this.o.onRowsRead?.();
    let rows = this.ctx.store.dirtyForPeer(this.peer);
    const only = this.only;
    if (only) rows = rows.filter((r) => only.has(r.filename));
    const f = this.o.filter;
    if (f === null || f.length === 0) return rows;
    return rows.filter((r) => f.some((p) => rowSelected(r.filename, p, this.o.recursive)));
  }

  async run(): Promise<void> {
    const { o } = this;
    this.only = o.only ?? null;
    let rows = this.findDirty();
    if (rows.length === 0) return;
    o.progress?.addTotal(rows.length, 0);

    // XPATCH (replies.ts) is offered unless this is a dry run, -vvv (whose wire dump shows
    // csync2's own conversation) or CSYNC2_TS_NO_EXTENSIONS; a real daemon ignores the offer.
    const offerExtensions = !this.dryRun && !log.enabled(3) && !process.env.CSYNC2_TS_NO_EXTENSIONS;
    const link = await connectToHost({ ...o.connect, peer: this.peer, out: o.out, errors: o.errors, offerExtensions });
    if (link === null) {
      o.errors.value++;
      o.out.debug(0, connectionFailedMessage(this.peer));
      o.out.debug(1, 'Host stays in dirty state. Try again later...');
      return;
    }
    this.link = link;
    this.pipe = new CommandPipe(link);
    try {
      await this.walk(rows);
      // Rows an earlier peer's missing directory marked for this one after it read its own:
      // csync2, serving one peer after the other, walks them in this peer's session.
      const late = await o.lateRows?.();
      // A row the last pass walked and left dirty: csync2 walks it once, and so did we.
      for (const n of late ?? []) if (this.lastPassNames.has(n) && !this.cleared.has(n)) late!.delete(n);
      if (late && late.size > 0) {
        this.only = late;
        rows = this.findDirty();
        o.progress?.addTotal(rows.length, 0);
        if (rows.length > 0) await this.walk(rows);
      }
      await this.flushDeferred();
      await link.bye(o.out, o.errors);
    } catch (err) {
      link.conn.destroy();
      throw err;
    }
  }

  /** Walk the rows, starting over while a parent directory was missing (csync2 forgets that walk's errors). */
  private async walk(rows: DirtyRow[]): Promise<void> {
    const { o } = this;
    const saved = o.errors.value;
    for (;;) {
      this.passes++;
      const again = await this.pass(rows);
      if (!again) break;
      o.errors.value = saved;
      rows = this.findDirty();
    }
    this.countedPasses.add(this.passes);
  }

  /** One walk over the rows; true = a parent directory was missing and the walk starts over. */
  private async pass(rows: DirtyRow[]): Promise<boolean> {
    const { o } = this;
    this.lastPassNames = new Set(rows.map((r) => r.filename));
    // A walk that starts over asks about what the last one created, as csync2 does.
    this.dirsCreated.clear();
    const state = new PassState(this.missingParentDir);
    // Only the jobs still running are kept (a first push of 50k files held every finished job).
    let jobCount = 0;
    let prevTicket: Ticket | null = null;
    const running = new Set<Promise<void>>();
    /** The fatal error of the earliest job (in job order) that failed outright. */
    let failed: { index: number; reason: unknown } | null = null;
    const settled = async (): Promise<void> => {
      await Promise.allSettled([...running]);
      if (failed) throw failed.reason;
    };
    let inFlight = 0;
    let slotFree: (() => void) | null = null;
    const window = this.xpatch ? WINDOW_EXTENDED : WINDOW;
    const refill = this.xpatch ? REFILL_EXTENDED : REFILL;
    // Output, error counts and progress are released in job order.
    let committed: Promise<void> = Promise.resolve();

    const start = async (row: DirtyRow, kind: JobKind, node: OutNode): Promise<boolean> => {
      if (this.link.closed) {
        node.close();
        return false;
      }
      if (row.myname !== this.currentName) {
        // HELLO changes who we are for every later command: let everything before it finish.
        await settled();
        if (this.link.closed) {
          node.close();
          return false;
        }
        o.out.debug(3, `Dirty item ${row.filename} ${row.myname} ${row.forced ? 1 : 0}`);
        const hello = await this.pipe.request({ out: node, errors: o.errors }, `HELLO ${urlEncode(row.myname)}`,
          () => this.link.readStatus(row.filename, node, o.errors));
        if (!isOkStatus(hello)) {
          node.close();
          return kind === 'del'; // a removal is skipped, a change ends the walk
        }
        this.currentName = row.myname;
      }
      while (inFlight >= window) await new Promise<void>((r) => { slotFree = r; });
      const ticket: Ticket = new Ticket(prevTicket);
      prevTicket = ticket;
      const job = new FileJob(this, row.filename, row.forced, kind, jobCount++, ticket, state.gate());
      // Jobs after it may wait for its MKDIR (createsDirectorySoon()); it says so or ends.
      if (kind === 'mod') this.undecided.set(row.filename, null);
      inFlight++;
      const prevCommit = committed;
      const done = job.run().finally(() => {
        inFlight--;
        if (inFlight > window - refill) return;
        const f = slotFree;
        slotFree = null;
        f?.();
      });
      committed = Promise.all([prevCommit, done.catch(() => undefined)]).then(() => {
        // A job that went on before an earlier one found its parent missing (a creation's reply, extensions
        // v4) never ran in csync2's walk: unless its row is clean now, the walk that starts over shows it.
        const ranLate = state.abortAt < job.index && !job.cleared;
        if (job.admitted && !(state.closedAt < job.index) && !ranLate) {
          job.out.confirm(node);
          o.errors.value += job.errors.value;
        } else {
          job.out.drop();
        }
        if (this.link.closed && state.closedAt === Infinity) state.closedAt = job.index;
        node.close();
        o.progress?.advance(1, job.sent);
      });
      running.add(done);
      done.then(() => running.delete(done), (reason: unknown) => {
        running.delete(done);
        if (!failed || job.index < failed.index) failed = { index: job.index, reason };
      });
      return true;
    };

    // Deletions now, in descending order; the rest afterwards, ascending.
    const mods: DirtyRow[] = [];
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i]!;
      if (lstatName(this.cfg, row.filename) !== null && !checkPure(this.cfg, row.filename, o.out)) {
        mods.push(row);
        continue;
      }
      if (!(await start(row, 'del', o.out.child()))) {
        if (this.link.closed) break;
      }
    }
    mods.reverse();
    for (const row of mods) {
      if (this.link.closed || state.abortAt !== Infinity) break;
      if (!(await start(row, 'mod', o.out.child()))) break;
    }
    await Promise.allSettled([...running]);
    await committed;
    // A job that failed outright (a fatal error) fails the session.
    await settled();

    if (state.abortAt === Infinity) return false;
    const parent = state.abortParent!;
    const tl = this.ctx.store.fileNamesAtOrBelow(parent)
      .filter((fn) => lstatName(this.cfg, fn) !== null && !checkPure(this.cfg, fn, o.out));
    // csync2 builds that list by prepending: marked in reverse order.
    for (const fn of tl.reverse()) markDirty(this.ctx, fn, this.peer, null, o.out);
    for (const fn of tl) this.only?.add(fn);
    o.onMarked?.(tl, parent);
    this.missingParentDir = parent;
    return true;
  }

  /** Directory times, after everything inside them was written. */
  private async flushDeferred(): Promise<void> {
    if (this.deferred.size === 0 || this.link.closed) return;
    const entries = [...this.deferred.values()].reverse();
    this.deferred.clear();
    const replies = entries.map((e) => {
      const node = this.o.out.child();
      const errors = { value: 0 };
      const p = this.pipe.request({ out: node, errors }, `SETIME ${urlEncode(e.key)} ${urlEncode(e.file)} ${e.mtime}`,
        () => this.link.readStatus(e.file, node, errors));
      return { e, node, errors, p };
    });
    for (const { e, node, errors, p } of replies) {
      const st = await p;
      if (isOkStatus(st)) {
        this.ctx.store.deleteDirty(e.file, this.peer);
        if (e.autoResolved) errors.value--;
      } else {
        if (e.autoResolved) node.debug(0, 'ERROR: Auto-resolving failed. Giving up.');
        node.debug(1, 'File stays in dirty state. Try again later...');
      }
      // csync2 sent it in its walk: a walk that started over afterwards took its errors back.
      if (this.countedPasses.has(e.pass)) this.o.errors.value += errors.value;
      node.close();
    }
  }
}

/** The walk's shared decisions (csync_update_tl_mod's skip and restart), taken in job order. */
class PassState {
  /** Index of the job whose parent directory was missing (later jobs never ran). */
  abortAt = Infinity;
  abortParent: BStr | null = null;
  /** Index of the first job after which the connection was found closed. */
  closedAt = Infinity;
  private skip: BStr | null;

  constructor(private readonly missingParentDir: BStr | null) {
    this.skip = missingParentDir;
  }

  /** The skip test of csync2's loop (in job order); advances the skip state. */
  private skipped(name: BStr): boolean {
    if (this.skip === null) return false;
    const n = this.skip.length;
    const cmp = strncmp(this.skip, name, n);
    if (cmp > 0) return true;
    if (cmp === 0 && name.charCodeAt(n) === 0x2f) {
      log.debug(3, `Skipped ${name}`);
      return true;
    }
    this.skip = null;
    return false;
  }

  gate(): PassGate {
    return {
      admit: (job: FileJob): boolean => job.index < this.abortAt && !(job.kind === 'mod' && this.skipped(job.file)),
      parentMissing: (job: FileJob): void => {
        // A creation sent without a SIG may say so after later jobs went on: the first one counts.
        if (job.index > this.abortAt) return;
        const slash = job.file.lastIndexOf('/');
        const parent = slash >= 0 ? job.file.slice(0, slash) : '';
        job.out.debug(1, `missing parent dir : ${parent}`);
        if (this.missingParentDir !== null && this.missingParentDir === parent) {
          // The same directory again: skip what lies below this name and go on.
          this.skip = job.file;
          return;
        }
        this.abortAt = job.index;
        this.abortParent = parent;
      },
    };
  }
}

/** C's strncmp sign for byte strings. */
function strncmp(a: BStr, b: BStr, n: number): number {
  for (let i = 0; i < n; i++) {
    const ca = i < a.length ? a.charCodeAt(i) : 0;
    const cb = i < b.length ? b.charCodeAt(i) : 0;
    if (ca !== cb) return ca - cb;
    if (ca === 0) return 0;
  }
  return 0;
}
