/**
 * Atomic content writes (shared by the daemon's PATCH and any later client
 * use). New content goes to a temp file (src/fs/tempfile.ts: csync2's names
 * and directories), is fsynced, gets the owner and mode of the file it
 * replaces (like csync2's clone_ownership_and_permissions), and is renamed
 * over the target. A crash or a failure before the rename leaves the old file
 * as it was and removes the temp file.
 *
 * If the temp file sits on another file system (a `tempdir` elsewhere),
 * rename() fails with EXDEV: csync2 then truncates the target and copies into
 * it. We first copy into a second temp file beside the target and rename that
 * (still atomic); only if that is impossible do we fall back to csync2's copy.
 *
 * Renames change directories; those are fsynced later in one batch
 * (syncDirectories), so a sequence of writes pays for each directory once.
 */
import { close, closeSync, fchmodSync, fchownSync, fstatSync, open, read, rename, renameSync, statSync, write, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { unlink } from 'node:fs/promises';
import { constants as C } from 'node:fs';
import { Patcher, BasisFile, type Basis, type DeltaStats } from '../rsync/index.js';
import { log } from '../util/log.js';
import { strerror } from '../util/errors.js';
import { fsPath, type BStr } from '../util/bytes.js';
import { createTempFile, releaseTemp, type TempFile } from './tempfile.js';
import { fsyncIsNoop } from './syncfree.js';
import { flushDirectory, flushFile } from './flushgroup.js';

const pClose = promisify(close);
const pOpen = promisify(open);
const pRead = promisify(read);
const pWrite = promisify(write);
const pRename = promisify(rename);

export interface ApplyOptions {
  /** The config's `tempdir` (first candidate directory for the temp file), or null. */
  tempdir: BStr | null;
  /** `ignore uid` / `ignore gid`: the temp file keeps its own ids for what is ignored. */
  ignoreUid: boolean;
  ignoreGid: boolean;
  /** fsync the new content before it replaces the target (default true). */
  durable?: boolean;
  /** Collects the directories whose entries changed, for syncDirectories(). */
  changedDirs?: Set<BStr>;
  /** Called right before the new content replaces the target (the daemon takes its db lock here). */
  beforeReplace?: () => void;
  /** The caller found nothing at the target a moment ago: no owner and mode to clone (and no stat() to learn that). */
  targetMissing?: boolean;
}

/**
 * A content write in progress: the temp file is open; commit() or abort() ends it.
 * seal() may come first: the daemon seals a received file, lets the fsync run in
 * the background while it serves the next commands (SETOWN, SETMOD and SETIME go
 * to the temp file then), and commits it when the client's last command for it
 * arrives.
 */
export class PendingWrite {
  private done = false;
  private durable: Promise<void> | null = null;
  /** A file was at the target when the content was sealed. */
  private replacing = false;

  private constructor(readonly target: BStr, private readonly temp: TempFile, private readonly opts: ApplyOptions) {}

  /** Create the temp file for `target` (throws the OS error when no candidate directory works). */
  static async begin(target: BStr, opts: ApplyOptions): Promise<PendingWrite> {
    return new PendingWrite(target, await createTempFile(target, opts.tempdir), opts);
  }

  /** A temp file for `target` made elsewhere (src/fs/newfile-worker.ts), open, its content written. */
  static adopt(target: BStr, temp: TempFile, opts: ApplyOptions): PendingWrite {
    return new PendingWrite(target, temp, opts);
  }

  get fd(): number {
    return this.temp.fd;
  }

  get tempPath(): BStr {
    return this.temp.path;
  }

  /** The content is complete: clone owner and mode of the old file and start the fsync (not awaited). */
  seal(): void {
    if (this.durable) return;
    this.replacing = this.opts.targetMissing === true ? false : cloneOwnerAndMode(this.temp.fd, this.target, this.opts);
    const fd = this.temp.fd;
    const dir = dirOf(this.temp.path);
    const skip = this.opts.durable === false || fsyncIsNoop(dir);
    this.durable = skip ? Promise.resolve() : flushFile(fd, dir);
    this.durable.catch(() => undefined); // the error comes out of commit()
  }

  /**
   * Make the new content durable and put it in place (sealing it first if that was not done).
   * `beforeReplace` replaces the options' hook for this call.
   */
  async commit(beforeReplace = this.opts.beforeReplace): Promise<Stats | null> {
    if (this.done) throw new Error('PendingWrite already finished');
    try {
      this.seal();
      await this.durable;
      // The inode's final state, to be the target's after a rename (no lstat() of the path then).
      const st = fstatOrNull(this.temp.fd);
      closeSync(this.temp.fd);
      this.temp.fd = -1;
      beforeReplace?.();
      const renamed = await this.putInPlace();
      this.done = true;
      return renamed ? st : null;
    } catch (err) {
      await this.abort();
      throw err;
    } finally {
      releaseTemp(this.temp.path);
    }
  }

  /** Drop the new content: close and remove the temp file. Never throws. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    if (this.temp.fd >= 0) {
      await pClose(this.temp.fd).catch(() => undefined);
      this.temp.fd = -1;
    }
    await unlink(fsPath(this.temp.path)).catch(() => undefined);
    releaseTemp(this.temp.path);
  }

  /** True when the temp file itself became the target (renamed; not copied). */
  private async putInPlace(): Promise<boolean> {
    try {
      // Replacing a file frees the old one's blocks (~0.4 ms on ext4 here): in the thread
      // pool then. A new name costs microseconds, less than the hop (most of a first push).
      if (this.replacing) await pRename(fsPath(this.temp.path), fsPath(this.target));
      else renameSync(fsPath(this.temp.path), fsPath(this.target));
      this.opts.changedDirs?.add(dirOf(this.target));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    }
    log.debug(1, 'rename not possible! Will truncate and copy instead.');
    try {
      await this.copyBesideTarget();
    } catch (err) {
      log.debug(1, `copy beside the target failed (${strerror(err)}); copying into ${this.target} in place`);
      await copyFile(this.temp.path, this.target, C.O_WRONLY | C.O_CREAT | C.O_TRUNC);
    }
    await unlink(fsPath(this.temp.path)).catch(() => undefined);
    return false;
  }

  /** EXDEV: a second temp file in the target's own directory, renamed over the target. */
  private async copyBesideTarget(): Promise<void> {
    const beside = await PendingWrite.begin(this.target, { ...this.opts, tempdir: dirOf(this.target) });
    try {
      await copyFd(this.temp.path, beside.fd);
    } catch (err) {
      await beside.abort();
      throw err;
    }
    await beside.commit();
  }
}

/** The new file gets the old one's owner (unless ignored) and mode; failures are ignored, as in csync2. */
/** Clone owner and mode of the file `target` replaces; false when there is none. */
function cloneOwnerAndMode(fd: number, target: BStr, opts: ApplyOptions): boolean {
  // Synchronous metadata calls: microseconds each, where a thread-pool hop per call dominated small files.
  let st;
  try {
    // A new file (most of a first push) is found missing without an exception's cost.
    st = statSync(fsPath(target), { throwIfNoEntry: false });
  } catch {
    st = undefined;
  }
  if (st === undefined) return false; // no old file: the temp file keeps 0600 until SETMOD
  const uid = opts.ignoreUid ? -1 : st.uid;
  const gid = opts.ignoreGid ? -1 : st.gid;
  try {
    if (uid !== -1 || gid !== -1) fchownSync(fd, uid, gid);
  } catch { /* like csync2: owner is best effort */ }
  try {
    fchmodSync(fd, st.mode & 0o7777);
  } catch { /* best effort */ }
  return true;
}

function fstatOrNull(fd: number): Stats | null {
  try {
    return fstatSync(fd);
  } catch {
    return null;
  }
}

function dirOf(path: BStr): BStr {
  const slash = path.lastIndexOf('/');
  if (slash < 0) return '.';
  return slash === 0 ? '/' : path.slice(0, slash);
}

const COPY_CHUNK = 1 << 20;

async function copyFd(fromPath: BStr, toFd: number): Promise<void> {
  const from = await pOpen(fsPath(fromPath), 'r');
  try {
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    for (;;) {
      const { bytesRead: n } = await pRead(from, buf, 0, buf.length, null);
      if (n === 0) break;
      let off = 0;
      while (off < n) off += (await pWrite(toFd, buf, off, n - off, null)).bytesWritten;
    }
  } finally {
    await pClose(from).catch(() => undefined);
  }
}

/** Copy a file's bytes into `toPath` opened with `flags` (csync2's in-place EXDEV fallback). */
export async function copyFile(fromPath: BStr, toPath: BStr, flags: number, mode = 0o600): Promise<void> {
  const to = await pOpen(fsPath(toPath), flags, mode);
  try {
    await copyFd(fromPath, to);
  } finally {
    await pClose(to).catch(() => undefined);
  }
}

/**
 * Apply an rsync delta to `target`: the basis is the target's current content
 * (an empty basis when it cannot be opened, as csync2 does), the result is
 * written to a temp file and committed as above.
 *
 * `delta` is always read to its end, even when the patch fails half-way (so a
 * framed socket read stays in step); the first error is thrown afterwards:
 * an RsyncError for a corrupt delta, else the OS error.
 */
export async function patchFile(target: BStr, delta: AsyncIterable<Uint8Array>, opts: ApplyOptions): Promise<DeltaStats> {
  const { write, stats } = await patchToPending(target, delta, opts);
  await write.commit();
  return stats;
}

/**
 * patchFile() up to a sealed PendingWrite: the caller commits (or aborts) it.
 * `basisMissing`: the caller just found the target missing (the basis is empty).
 */
export async function patchToPending(target: BStr, delta: AsyncIterable<Uint8Array>, opts: ApplyOptions,
  basisMissing?: boolean): Promise<{ write: PendingWrite; stats: DeltaStats }> {
  const it = delta[Symbol.asyncIterator]();
  let failure: unknown = null;
  let pending: PendingWrite | null = null;
  let basis: BasisFile | null = null;
  let stats: DeltaStats | null = null;
  try {
    try {
      // A new file (most of a first push) is known missing without an exception's cost.
      const missing = basisMissing ?? statSync(fsPath(target), { throwIfNoEntry: false }) === undefined;
      basis = missing ? null : new BasisFile(fsPath(target));
    } catch {
      basis = null;
    }
    pending = await PendingWrite.begin(target, opts);
    const patcher = new Patcher(basis as Basis | null, pending.fd);
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      await patcher.write(r.value);
    }
    await patcher.end();
    stats = patcher.stats;
    basis?.close();
    basis = null;
    pending.seal();
  } catch (err) {
    failure = err;
  }
  if (basis) basis.close();
  if (failure !== null) {
    if (pending) await pending.abort();
    // Read what is left of the delta so the stream stays in step.
    for (;;) {
      try {
        if ((await it.next()).done) break;
      } catch {
        break;
      }
    }
    throw failure;
  }
  return { write: pending!, stats: stats! };
}

/** fsync each directory once (after a batch of renames into them; together where flushgroup.ts can). Errors are ignored. */
export async function syncDirectories(dirs: Iterable<BStr>): Promise<void> {
  await Promise.all([...dirs].map((d) => (fsyncIsNoop(d) ? undefined : flushDirectory(d).catch(() => undefined))));
}
