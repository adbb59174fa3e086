/**
 * The local check (check.c): compare the tree with the `file` table, update
 * the table and mark new, changed and removed files dirty. Used by -c, -x,
 * -cu, hint processing, -o (read-only "compare mode", printing what belongs to
 * a group) and by the daemon before every dirty-checked command.
 *
 * The decisions, the walk order (directory entries in descending byte order),
 * the prefix handling and the messages are csync2's. The data access is not:
 * csync2 runs one SELECT per file and lstat()s every known file twice; here the
 * rows of a check root are loaded in one query, the walk runs first and records
 * what it saw, and only rows the walk did not reach are lstat()ed again.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { writeFully } from '../util/fdwrite.js';
import { prefixSubst } from '../config/prefix.js';
import { genChecktxt, fileType, S_IFDIR, S_IFLNK } from '../fs/checktxt.js';
import { FatalError, strerror } from '../util/errors.js';
import { log, errorCount } from '../util/log.js';
import { toBuf, fsPath, type BStr } from '../util/bytes.js';
import { markDirty } from './mark.js';
import { isOurTempName } from '../fs/tempname.js';
import { lstatDir } from '../fs/dirstat.js';

import { urlEncode } from '../protocol/urlencode.js';
import type { RunContext } from './context.js';
import type { Config } from '../config/model.js';

interface LoadedRange {
  name: BStr;
  recursive: boolean;
}

/** lstat() of `real` (null: nothing there or not reachable), made by the caller a moment ago. */
export interface KnownStat {
  real: BStr;
  st: Stats | null;
}

export interface CheckOptions {
  /** -o: print matching names, change nothing, compare patterns count. */
  compareMode?: boolean;
  /** Where -o prints its names. */
  onListed?: (name: BStr) => void;
}

export class Checker {
  private readonly compareMode: boolean;
  private readonly onListed: (name: BStr) => void;
  /** Known file rows (decoded name -> url-encoded checktxt as stored) of the ranges loaded so far. */
  private readonly rows = new Map<BStr, BStr>();
  private readonly loaded: LoadedRange[] = [];
  private lastHit: LoadedRange | null = null;
  /** data_version when the first rows were read in bulk (-1: unknown), and the last cacheCurrent() answer per transaction. */
  private versionAtLoad: number | null = null;
  private verifiedTx = -1;
  private cacheWasCurrent = false;
  /** Names the current check's walk found with lstat(), i.e. present and without symlinked parents. */
  private seen = new Set<BStr>();
  /**
   * Rows the walk of the current root added. Its removal check runs after the walk here but
   * before it in csync2, where these rows did not exist yet: they are passed over unseen (no
   * `Match` line at -vv).
   */
  private addedByWalk = new Set<BStr>();
  /** Walks done in this check() call ("name\0recursive"), to skip csync2's repeated prefix walk. */
  private walked = new Set<string>();
  /** check_pure() answers per directory part. */
  private readonly pureCache = new Map<BStr, boolean>();
  /** An lstat() the caller has just made (the daemon's, of the command's path): not made again. */
  private known: KnownStat | null = null;

  constructor(private readonly ctx: RunContext, opts: CheckOptions = {}) {
    this.compareMode = opts.compareMode ?? false;
    this.onListed = opts.onListed ?? (() => undefined);
    ctx.matcher.compareMode = this.compareMode;
  }

  /** csync_check(filename, recursive, init_run). `known`: the caller's fresh lstat() of one path. */
  check(filename: BStr, recursive: boolean, known: KnownStat | null = null): void {
    this.known = known;
    this.seen = new Set();
    this.walked = new Set();
    this.pureCache.clear();
    const roots = checkRoots(this.ctx.cfg, filename);
    for (let i = 0; i < roots.length; i++) {
      const root = roots[i]!;
      this.addedByWalk.clear();
      log.debug(2, `Running${recursive ? ' recursive' : ''} check for ${root} ...`);
      this.ensureLoaded(root, recursive);
      // csync2 looks for removals before it walks. Walking first gives the same rows (the removal
      // check then needs no lstat() for what the walk found) unless the root itself sits below a
      // symlink; keep csync2's order then. Either way the messages come in csync2's order.
      const rootIsPure = !this.hasSymlinkParent(root);
      if (!this.compareMode && !rootIsPure) this.checkDel(root, recursive);
      const key = `${root}\0${recursive ? 1 : 0}`;
      // csync2 walks a root again when an earlier root of the same name walked it (a prefix path
      // checked by its real name); that changes no row, so it is skipped unless -vv shows it.
      const mustWalk = this.compareMode || this.ctx.dumpDirFd !== null || !this.walked.has(key) || log.enabled(2);
      const delAfter = !this.compareMode && rootIsPure;
      if (mustWalk) {
        if (!delAfter) {
          this.checkMod(root, recursive, true);
        } else {
          log.hold();
          try {
            this.checkMod(root, recursive, true);
          } catch (err) {
            log.replay(log.takeHeld());
            throw err;
          }
          const walkOutput = log.takeHeld();
          this.checkDel(root, recursive);
          log.replay(walkOutput);
        }
      } else if (delAfter) {
        this.checkDel(root, recursive);
      }
    }
  }

  // ---- rows ------------------------------------------------------------

  /** Is `name` (and, when `recursive`, everything below it) inside a range loaded already? */
  private covered(name: BStr, recursive: boolean): boolean {
    const last = this.lastHit;
    if (last && last.recursive && (last.name === '/' || (name.startsWith(last.name) &&
      (name.length === last.name.length || name.charCodeAt(last.name.length) === 0x2f)))) return true;
    for (const r of this.loaded) {
      if (r.recursive && (r.name === '/' || r.name === name ||
        (name.startsWith(r.name) && name.charCodeAt(r.name.length) === 0x2f))) {
        this.lastHit = r;
        return true;
      }
      if (!recursive && r.name === name) return true;
    }
    return false;
  }

  private ensureLoaded(name: BStr, recursive: boolean): void {
    if (this.covered(name, recursive)) return;
    // A bulk read remembers the database's version; a single row is simply read again under
    // the lock when a change is found (-1 never matches, which saves the daemon a query per command).
    this.versionAtLoad ??= recursive ? this.ctx.store.dataVersion() : -1;
    for (const [k, v] of this.ctx.store.fileRowsEncoded(name, recursive)) this.rows.set(k, v);
    this.loaded.push({ name, recursive });
  }

  private rowFor(name: BStr): BStr | undefined {
    this.ensureLoaded(name, false);
    return this.rows.get(name);
  }

  /** Rows at `name` and (recursive) below it, in the order the query returned them. */
  private rowsUnder(name: BStr, recursive: boolean): BStr[] {
    this.ensureLoaded(name, recursive);
    const out: BStr[] = [];
    const prefix = name + '/';
    for (const k of this.rows.keys()) {
      if (k === name || (recursive && (name === '/' || k.startsWith(prefix)))) out.push(k);
    }
    return out;
  }

  // ---- re-checks under the write lock ------------------------------------
  // The rows were read in bulk before the walk; a daemon may have received a
  // file since (it changes the file and its row under the write lock). A found
  // change is confirmed against the current row, under the lock, before it is
  // marked: a received file is never mistaken for a local change.

  /**
   * Under the write lock: true when no other process committed since the rows were read, so
   * the cached rows are current and a found change needs no second look. Asked once per
   * transaction (nobody else can commit while this process holds the lock).
   */
  private cacheCurrent(): boolean {
    const { store } = this.ctx;
    store.lockForWrite();
    if (store.transactionSerial !== this.verifiedTx) {
      this.verifiedTx = store.transactionSerial;
      this.cacheWasCurrent = store.dataVersion() === this.versionAtLoad;
    }
    return this.cacheWasCurrent;
  }

  private stillChanged(file: BStr, real: BStr): boolean {
    if (this.cacheCurrent()) return true;
    const row = this.ctx.store.getChecktxt(file);
    const st = lstatOrNull(real);
    if (row === null || st === null) return true;
    if (genChecktxt(st, file, this.ctx.cfg, false) !== row) return true;
    this.rows.set(file, urlEncode(row));
    return false;
  }

  private stillGone(name: BStr): boolean {
    if (this.cacheCurrent()) return true;
    if (this.ctx.store.getChecktxt(name) === null) {
      this.rows.delete(name);
      return false;
    }
    return lstatOrNull(prefixSubst(this.ctx.cfg, name)) === null || this.hasSymlinkParent(name);
  }

  // ---- removals (csync_check_del) ----------------------------------------

  private checkDel(file: BStr, recursive: boolean): void {
    const removed: BStr[] = [];
    // csync2 reads them ORDER BY filename; ours come in load order, which a walk that read rows one
    // by one leaves in walk order. The order shows in -vv's Match lines and in the marking below.
    const rows = this.rowsUnder(file, recursive);
    for (const name of log.enabled(2) ? inStoredOrder(rows) : rows) {
      if (this.addedByWalk.has(name)) continue;
      if (this.ctx.matcher.matchFile(name) === 0) continue;
      if (this.seen.has(name)) continue;
      if (this.lstatOf(prefixSubst(this.ctx.cfg, name)) === null || this.hasSymlinkParent(name)) removed.push(name);
    }
    // csync2 collects them by prepending: they are marked in reverse name order.
    for (const name of inStoredOrder(removed).reverse()) {
      if (!this.stillGone(name)) continue;
      if (!this.ctx.initRun) markDirty(this.ctx, name);
      this.ctx.store.deleteFile(name);
      this.rows.delete(name);
    }
  }

  private lstatOf(real: BStr): Stats | null {
    const known = this.known;
    return known !== null && known.real === real ? known.st : lstatOrNull(real);
  }

  /**
   * csync_check_pure(): does a directory part of `name` (not the name itself, and
   * not the first component) resolve to a symlink or not exist?
   */
  private hasSymlinkParent(name: BStr): boolean {
    let dirLen = name.lastIndexOf('/');
    if (dirLen <= 0) return false;
    const cached = this.pureCache.get(name.slice(0, dirLen));
    if (cached !== undefined) return cached;
    let result = false;
    const checked: BStr[] = [];
    while (dirLen > 1) {
      const dir = name.slice(0, dirLen);
      const known = this.pureCache.get(dir);
      if (known !== undefined) {
        result = known;
        break;
      }
      checked.push(dir);
      const st = lstatDir(prefixSubst(this.ctx.cfg, dir));
      if (st === null || fileType(st.mode) === S_IFLNK) {
        result = true;
        break;
      }
      dirLen = name.lastIndexOf('/', dirLen - 1);
    }
    // A parent with a symlink makes every longer directory impure too; a pure one says nothing about them.
    for (const d of checked) this.pureCache.set(d, result);
    return result;
  }

  // ---- the walk (csync_check_mod) ----------------------------------------

  /** Returns csync2's "dirdump_parent": this entry itself belongs to a group. */
  private checkMod(file: BStr, recursive: boolean, ignoreNoEnt: boolean): boolean {
    const { ctx } = this;
    let checkType = ctx.matcher.matchFile(file);
    if (file.charCodeAt(0) !== 0x25 /* % */) {
      for (const p of ctx.cfg.prefixes) {
        if (p.path === null) continue;
        if (file === p.path) {
          const encoded = `%${p.name}%`;
          log.debug(2, `Prefix matched: ${encoded} <- ${file}.`);
          this.walked.add(`${encoded}\0${recursive ? 1 : 0}`);
          // Its rows in one read rather than one per entry the walk meets.
          this.ensureLoaded(encoded, recursive);
          this.checkMod(encoded, recursive, ignoreNoEnt);
          continue;
        }
        if (checkType < 1 && file.length < p.path.length && p.path.charCodeAt(file.length) === 0x2f &&
          p.path.startsWith(file)) checkType = 1;
      }
    }

    if (checkType === 0) {
      log.debug(2, `Don't check at all: ${file}`);
      return false;
    }
    const real = prefixSubst(ctx.cfg, file);
    const st = this.lstatOf(real);
    if (st === null) {
      if (ignoreNoEnt) return false;
      throw new FatalError(`This should not happen: Can't stat ${real}.`);
    }
    this.seen.add(file);

    let dumpThis = false;
    let dumpParent = false;
    if (checkType === 2) {
      log.debug(2, `Checking ${file}.`);
      const checktxt = genChecktxt(st, file, ctx.cfg, false);
      if (this.compareMode) this.onListed(file);
      const old = this.rowFor(file);
      const encoded = urlEncode(checktxt);
      let dirty = false;
      if (old === undefined) {
        log.debug(2, `New file: ${file}`);
        dirty = true;
      } else if (old !== encoded) {
        log.debug(2, `File has changed: ${file}`);
        dirty = true;
      }
      if (dirty && !this.compareMode && this.stillChanged(file, real)) {
        ctx.store.putFile(file, checktxt);
        this.rows.set(file, encoded);
        if (old === undefined) this.addedByWalk.add(file);
        if (!ctx.initRun) markDirty(ctx, file);
      }
      dumpThis = true;
      dumpParent = true;
    }

    if (recursive && fileType(st.mode) === S_IFDIR) {
      log.debug(2, `Checking ${file}${file === '/' ? '' : '/'}* ..`);
      let names: BStr[];
      try {
        // 'latin1' names are exactly our byte strings.
        names = readdirSync(fsPath(real), { encoding: 'latin1' });
      } catch (err) {
        log.debug(0, `${strerror(err)} in scandir: ${real} (${file})`);
        errorCount.value++;
        names = [];
      }
      names.sort();
      const base = file === '/' ? '' : file;
      for (let i = names.length - 1; i >= 0; i--) {
        const name = names[i]!;
        // Beyond csync2: a content write in flight (ours, `.<name>.csTemp`) is not a file of the tree.
        if (isOurTempName(name)) {
          log.debug(2, `Skipping temp file: ${base}/${name}`);
          continue;
        }
        // csync2 stops the whole run ("This should not happen") when an entry vanishes
        // between readdir and lstat; here it is simply gone (checkDel sees to its row).
        if (this.checkMod(`${base}/${name}`, recursive, true)) dumpThis = true;
      }
      if (dumpThis && ctx.dumpDirFd !== null) writeDumpDir(ctx.dumpDirFd, file);
    }
    return dumpParent;
  }
}

/** The names csync_check() looks at for `filename`: itself and, for a path below a prefix's directory, its %prefix% spelling. */
export function checkRoots(cfg: Config, filename: BStr): BStr[] {
  const roots: BStr[] = [filename];
  if (filename.startsWith('/')) {
    for (const p of cfg.prefixes) {
      if (p.path === null) continue;
      const pl = p.path.length;
      if (pl <= filename.length && filename.startsWith(p.path) &&
        (filename.length === pl || filename.charCodeAt(pl) === 0x2f)) {
        roots.push(`%${p.name}%${filename.slice(pl)}`);
      }
    }
  }
  return roots;
}

function lstatOrNull(path: BStr): Stats | null {
  try {
    return lstatSync(fsPath(path), { throwIfNoEntry: false }) ?? null;
  } catch {
    return null; // ENOTDIR, EACCES, ELOOP...: csync2 treats any lstat failure alike
  }
}

function writeDumpDir(fd: number, name: BStr): void {
  try {
    writeFully(fd, toBuf(name + '\0'));
  } catch (err) {
    throw new FatalError(`Error while writing to dump_dir_fd ${fd}: ${strerror(err)}`);
  }
}

/** Names in the order of their stored (url-encoded) form, as SQL's ORDER BY filename gives them. */
function inStoredOrder(names: BStr[]): BStr[] {
  if (names.length < 2) return names;
  const keyed = names.map((n) => [urlEncode(n), n] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return keyed.map((k) => k[1]);
}
