/**
 * StateStore: the only way to the csync2 state database (SQLite, the exact
 * csync2 2.0 schema). Callers pass and get DECODED byte strings; the store
 * url-encodes on the way in and decodes on the way out, like csync2 does.
 *
 * Byte exactness: values are bound as Buffers through `CAST(? AS TEXT)` and
 * read back as BLOBs, so names that are not valid UTF-8 survive unchanged and
 * the storage class stays TEXT as csync2 writes it.
 *
 * Speed: bulk reads use one group_concat() per query (row objects are what
 * makes better-sqlite3 slow for 50k rows); writes are prepared statements inside
 * one transaction, committed at the latest every 3 s (csync2's rule) so other
 * processes get the lock, or never batched with -B.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DbError, FatalError } from '../util/errors.js';
import { log } from '../util/log.js';
import { toBuf, fromBuf, isAscii, type BStr } from '../util/bytes.js';
import { urlEncode, urlDecode } from '../protocol/urlencode.js';
import type { DbLocation } from './location.js';

export const DEADLOCK_MESSAGE = 'Database backend is exceedingly busy => Terminating (requesting retry).';

/** Is the schema there? (csync2 probes with `SELECT count(*) from file`; LIMIT 1 asks the same without a scan.) */
const SCHEMA_PROBE = 'SELECT 1 FROM file LIMIT 1';

/** The DDL exactly as csync2 stores it in sqlite_master (the whitespace inside is a TAB). */
export const SCHEMA: ReadonlyArray<readonly [string, string]> = [
  ['Creating file table', 'CREATE TABLE file (\tfilename, checktxt,\tUNIQUE ( filename ) ON CONFLICT REPLACE)'],
  ['Creating dirty table', 'CREATE TABLE dirty (\tfilename, forced, myname, peername,\tUNIQUE ( filename, peername ) ON CONFLICT IGNORE)'],
  ['Creating hint table', 'CREATE TABLE hint (\tfilename, recursive,\tUNIQUE ( filename, recursive ) ON CONFLICT IGNORE)'],
  ['Creating action table', 'CREATE TABLE action (\tfilename, command, logfile,\tUNIQUE ( filename, command ) ON CONFLICT IGNORE)'],
  ['Creating x509_cert table', 'CREATE TABLE x509_cert (\tpeername, certdata,\tUNIQUE ( peername ) ON CONFLICT IGNORE)'],
];

export interface StateStoreOptions {
  /** -B: no big transactions, every statement autocommits. */
  noBigTransactions: boolean;
  /** -A: PRAGMA synchronous = OFF. */
  asyncMode: boolean;
  /** `lock-timeout` from the config (seconds, default 12). */
  lockTimeout: number;
  /** Read through a memory map and keep a big page cache (default true; see useMmap(), forPush()). */
  mmap?: boolean;
}

export interface DirtyRow {
  filename: BStr;
  forced: boolean;
  myname: BStr;
  peername: BStr;
}

export interface FileRow {
  filename: BStr;
  checktxt: BStr;
}

/** A file row as stored: [url-encoded name, url-encoded checktxt]. */
export type EncodedFileRow = [filename: BStr, checktxt: BStr];

/** A bound text parameter: plain string when ASCII (cheap), Buffer otherwise. */
function textParam(s: BStr): string | Buffer {
  return isAscii(s) ? s : toBuf(s);
}

/** SQL text for a range under `enc` (the encoded name): `filename > 'enc/' AND filename < 'enc0'`. */
function below(enc: BStr): [BStr, BStr] {
  return [enc + '/', enc + '0'];
}

const FIELD_SEP = '\t';
/** Rows per page of a big file-table read. */
const FILE_PAGE = 4096;
const ROW_SEP = '\n';

type Stmt = Database.Statement<unknown[], unknown>;

/** Largest part of the database file read through a memory map (useMmap). */
const MMAP_BYTES = 256 << 20;
/** The page cache of a push (KiB): SQLite's own default. */
const PUSH_CACHE_KIB = 2000;

/** A statement parameter as -vv shows it (JSON has no bigint: a hint's `recursive` is one). */
function sqlParamText(p: unknown): unknown {
  if (Buffer.isBuffer(p)) return fromBuf(p);
  return typeof p === 'bigint' ? Number(p) : p;
}

export class StateStore {
  private readonly db: Database.Database;
  private readonly blocking: boolean;
  private inTx = false;
  private txStarted = 0;
  private txSerial = 0;
  /** Open critical sections (enterCritical); commits wait for them. */
  private critical = 0;
  private readonly criticalWaiters: (() => void)[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly stmts = new Map<string, Stmt>();
  /** Statements that changed rows since the last commit (for -vv statistics only). */
  private pendingWrites = 0;

  private constructor(db: Database.Database, opts: StateStoreOptions) {
    this.db = db;
    this.blocking = !opts.noBigTransactions;
  }

  static open(loc: DbLocation, opts: StateStoreOptions): StateStore {
    if (loc.error) throw loc.error;
    const timeoutMs = (process.pid % 7 + opts.lockTimeout) * 1000;
    let db: Database.Database;
    try {
      // better-sqlite3 takes the file name as UTF-8 text.
      db = new Database(isAscii(loc.path) ? loc.path : toBuf(loc.path).toString('utf8'), { timeout: timeoutMs, ...nativeBinding() });
    } catch (err) {
      if (!loc.path.startsWith('/')) {
        log.debug(0, `Cannot open database file: ${loc.path}, maybe you need three slashes (like sqlite:///var/lib/csync2/csync2.db)`);
      }
      throw new FatalError(`Can't open database: ${loc.url}`, (err as Error).message);
    }
    const store = new StateStore(db, opts);
    store.ensureSchema(loc);
    store.useWal();
    if (opts.mmap !== false) store.useMmap();
    else store.forPush();
    if (opts.asyncMode) store.exec('PRAGMA synchronous = OFF');
    return store;
  }

  /**
   * Write-ahead logging: readers never wait for a writer (overlapping cron runs
   * and a receiving daemon), and a commit costs no fsync (synchronous=NORMAL
   * keeps the file consistent; a power cut may only lose the newest commits).
   * The mode is stored in the file; csync2's SQLite opens such a file as usual.
   */
  private useWal(): void {
    try {
      const mode = this.db.pragma('journal_mode', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    } catch {
      // A busy or read-only database keeps its journal mode; nothing depends on WAL.
    }
  }

  /**
   * Reads through a memory map instead of read() into SQLite's own page cache: the first
   * full scan of a process (-T's local rows, LIST, a check) no longer pays for filling that
   * cache. tree50k (13 MB database), first full read of the file table: 103 -> 30 ms; the -T
   * client, 8 runs each: CPU 0.65 -> 0.59 s; `-cr` with nothing changed, 5 runs each: CPU
   * 1.50 -> 1.40 s, peak RSS the same. A push is not faster (tree10k initial, within the noise)
   * and its client peaks higher: the mapped pages it read count as its own (tree50k initial
   * push, client max RSS: -u 117 -> 138 MB, -x 117 -> 133 MB), so a push does without: -u
   * opens the database without it (StateStoreOptions.mmap), -x and -cu drop it after their check.
   */
  private useMmap(): void {
    try {
      this.db.pragma(`mmap_size = ${MMAP_BYTES}`);
    } catch {
      // Not available (an SQLite built without it): reads go through read() as before.
    }
  }

  /**
   * A push's way of reading: through read() (SQLite unmaps the file, see useMmap()) with
   * SQLite's own default page cache of 2 MB instead of better-sqlite3's 16 MB. A push reads
   * its dirty rows once and then a few index pages per file; the big cache only held pages
   * it never read again (tree50k initial push, client max RSS 120-122 -> 110-113 MB; time
   * within the noise, 3 runs each).
   */
  forPush(): void {
    try {
      this.db.pragma('mmap_size = 0');
      this.db.pragma(`cache_size = -${PUSH_CACHE_KIB}`);
    } catch {
      // An SQLite without a map keeps reading as before; the cache size is always accepted.
    }
  }

  /** How this connection reads: its memory map's size in bytes and its page cache in KiB. */
  readingMode(): { mmapBytes: number; cacheKiB: number } {
    const size = Number(this.db.pragma('cache_size', { simple: true }));
    // A negative size is in KiB, a positive one in pages.
    const cacheKiB = size < 0 ? -size : (size * Number(this.db.pragma('page_size', { simple: true }))) / 1024;
    return { mmapBytes: Number(this.db.pragma('mmap_size', { simple: true }) ?? 0), cacheKiB };
  }

  /** csync2 probes with `SELECT count(*) from file` and creates all tables when that fails (LIMIT 1 probes the same without a scan). */
  private ensureSchema(loc: DbLocation): void {
    try {
      this.retryBusy(() => this.db.prepare(SCHEMA_PROBE).get());
      return;
    } catch (err) {
      if (err instanceof FatalError) throw err;
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_NOTADB' || code === 'SQLITE_IOERR' || code === 'SQLITE_PERM' || code === 'SQLITE_READONLY') {
        throw new FatalError(`Can't open database: ${loc.url}`, (err as Error).message);
      }
    }
    // Under the write lock, looked at again: two runs starting on a new database (cron and a
    // receiving daemon, say) both find no table, and the second CREATE would fail.
    // (A database that cannot be written fails at its first CREATE, with csync2's message.)
    let locked = false;
    try {
      this.retryBusy(() => this.db.exec('BEGIN IMMEDIATE'));
      locked = true;
    } catch (err) {
      if (err instanceof FatalError) throw err;
    }
    try {
      if (locked && this.hasFileTable()) return;
      log.debug(2, 'Upgrading database schema to version 0.');
      for (const [what, sql] of SCHEMA) {
        try {
          this.retryBusy(() => this.db.exec(sql));
        } catch (err) {
          if (err instanceof FatalError) throw err;
          const e = err as Error & { code?: string };
          throw new DbError(`Database Error: ${what} [1]: ${e.message} on executing ${sql}`);
        }
      }
    } finally {
      if (this.db.inTransaction) this.retryBusy(() => this.db.exec('COMMIT'));
    }
  }

  private hasFileTable(): boolean {
    try {
      this.db.prepare(SCHEMA_PROBE).get();
      return true;
    } catch {
      return false;
    }
  }

  /** better-sqlite3 already waits `timeout` ms on a locked database; a BUSY that still escapes is final. */
  private retryBusy<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new FatalError(DEADLOCK_MESSAGE);
      throw err;
    }
  }

  private stmt(sql: string): Stmt {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private exec(sql: string): void {
    this.retryBusy(() => this.db.exec(sql));
  }

  /** Run a writing statement inside the current batch transaction. */
  private write(sql: string, ...params: unknown[]): number {
    this.beginIfNeeded();
    if (log.enabled(2)) log.debug(2, `SQL: ${sql} ${JSON.stringify(params.map(sqlParamText))}`);
    const info = this.run(sql, params);
    this.pendingWrites++;
    this.maybeCommit();
    return info;
  }

  private run(sql: string, params: unknown[]): number {
    try {
      return this.retryBusy(() => this.stmt(sql).run(...params).changes);
    } catch (err) {
      if (err instanceof FatalError) throw err;
      throw new DbError(`Database Error: ${(err as Error).message} on executing ${sql}`);
    }
  }

  private query(sql: string, params: unknown[]): unknown[][] {
    try {
      return this.retryBusy(() => this.stmt(sql).raw(true).all(...params) as unknown[][]);
    } catch (err) {
      if (err instanceof FatalError) throw err;
      throw new DbError(`Database Error: ${(err as Error).message} on executing ${sql}`);
    }
  }

  /**
   * One bulk read: the selected text columns (already url-encoded in the db, so
   * they contain no raw TAB or LF) concatenated into one BLOB and split here.
   */
  private bulk(sqlInner: string, columns: string[], params: unknown[]): BStr[][] {
    const concat = columns.map((c) => `ifnull(CAST(${c} AS TEXT), '')`).join(` || char(9) || `);
    const sql = `SELECT CAST(group_concat(${concat}, char(10)) AS BLOB) FROM (${sqlInner})`;
    const rows = this.query(sql, params);
    const blob = rows[0]?.[0];
    if (blob === null || blob === undefined) return [];
    const text = fromBuf(blob as Buffer);
    const out: BStr[][] = [];
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf(ROW_SEP, start);
      if (end < 0) end = text.length;
      out.push(text.slice(start, end).split(FIELD_SEP));
      start = end + 1;
    }
    return out;
  }

  // ---- transactions ------------------------------------------------------

  private beginIfNeeded(): void {
    if (!this.blocking || this.inTx) return;
    this.begin();
  }

  private begin(): void {
    this.retryBusy(() => this.stmt('BEGIN IMMEDIATE').run()); // prepared once: exec() compiles every time
    this.inTx = true;
    this.txSerial++;
    this.txStarted = Date.now();
  }

  /** csync2 commits a big transaction when it is older than 3 s so others get a turn. */
  private maybeCommit(): void {
    if (!this.inTx) return;
    if (Date.now() - this.txStarted > 3000) {
      this.commit();
      return;
    }
    // An idle open transaction would block other processes: commit it soon.
    if (!this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.commit();
      }, 1000);
      this.idleTimer.unref();
    }
  }

  commit(): void {
    if (this.critical > 0) return; // the last leaveCritical() commits
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (!this.inTx) return;
    this.inTx = false;
    this.pendingWrites = 0;
    this.retryBusy(() => this.stmt('COMMIT').run());
  }

  close(): void {
    try {
      this.commit();
    } finally {
      this.db.close();
    }
  }

  /**
   * Take the database's write lock now (BEGIN IMMEDIATE, unless a transaction is
   * already open; commit() releases it). Used around a change that must look
   * atomic to other processes: the daemon holds it from putting a file in place
   * until its row is updated, and the checker re-reads a changed file's row
   * under it before marking, so a check overlapping a receiving daemon does not
   * mistake a just-received file for a local change.
   */
  lockForWrite(): void {
    if (this.inTx) return;
    this.begin();
    this.maybeCommit();
  }

  /**
   * Open the batch transaction ahead of a command's first write (not with -B's small
   * transactions, nor when one is open): the command's reads run inside it. A read outside
   * any transaction takes and drops WAL's read lock, two fcntl() calls, each time (a receiving
   * daemon made ~20k of them for 10k new files, between its commits).
   */
  beginBatch(): void {
    if (this.blocking) this.lockForWrite();
  }

  /** Counts transactions begun on this connection: equal values = the same write lock still held. */
  get transactionSerial(): number {
    return this.txSerial;
  }

  /** SQLite's data_version: changes only when another connection commits. */
  dataVersion(): number {
    return Number(this.stmt('PRAGMA data_version').pluck().get());
  }

  /**
   * lockForWrite() for one of several users of this connection (the daemon's
   * sessions share it): no commit happens until the last of them has left, so
   * one session's commit never releases the lock in the middle of another's
   * change.
   */
  enterCritical(): void {
    this.lockForWrite();
    this.critical++;
  }

  /** `commit` false: the lock stays until the next commit() (the daemon commits a burst of commands once). */
  leaveCritical(commit = true): void {
    if (this.critical === 0) return;
    this.critical--;
    if (this.critical === 0) {
      if (commit) this.commit();
      const waiters = this.criticalWaiters.splice(0);
      for (const w of waiters) w();
    }
  }

  /** Some user of this connection is inside a critical section (commit() would wait for it). */
  get criticalOpen(): boolean {
    return this.critical > 0;
  }

  /** Resolves when no critical section is open (a session's local check must not see a half-done change of another). */
  noCritical(): Promise<void> {
    if (this.critical === 0) return Promise.resolve();
    return new Promise((resolve) => this.criticalWaiters.push(resolve));
  }

  /** Run `fn` with every statement in one transaction (also with -B, for atomic groups of rows). */
  atomically<T>(fn: () => T): T {
    if (this.inTx) return fn();
    this.begin();
    try {
      const r = fn();
      this.commit();
      return r;
    } catch (err) {
      this.inTx = false;
      try { this.db.exec('ROLLBACK'); } catch { /* already rolled back */ }
      throw err;
    }
  }

  // ---- file ---------------------------------------------------------------

  /**
   * file rows at `name` and, when recursive, strictly below it (`/` = all rows),
   * as a Map decoded name -> checktxt AS STORED (url-encoded: compare it with
   * urlEncode(fresh checktxt); keeping it encoded avoids a decoded copy per row).
   * Read in pages of FILE_PAGE rows by name (keyset pagination), so a big table
   * never sits in memory twice.
   */
  fileRowsEncoded(name: BStr, recursive: boolean): Map<BStr, BStr> {
    const map = new Map<BStr, BStr>();
    const add = (rows: BStr[][]): void => {
      for (const r of rows) map.set(urlDecode(r[0]!), r[1] ?? '');
    };
    const enc = urlEncode(name);
    if (!(recursive && name === '/')) {
      add(this.bulk('SELECT filename, checktxt FROM file WHERE filename = CAST(? AS TEXT)',
        ['filename', 'checktxt'], [textParam(enc)]));
      if (!recursive) return map;
    }
    const [lo, hi] = recursive && name === '/' ? [null, null] : below(enc);
    let after: BStr | null = lo;
    for (;;) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (after !== null) { where.push('filename > CAST(? AS TEXT)'); params.push(textParam(after)); }
      if (hi !== null) { where.push('filename < CAST(? AS TEXT)'); params.push(textParam(hi)); }
      const rows = this.bulk(`SELECT filename, checktxt FROM file${where.length ? ' WHERE ' + where.join(' AND ') : ''} ` +
        `ORDER BY filename LIMIT ${FILE_PAGE}`, ['filename', 'checktxt'], params);
      add(rows);
      if (rows.length < FILE_PAGE) return map;
      after = rows[rows.length - 1]![0]!;
    }
  }

  /** All file rows ordered by the ENCODED name (csync2's ORDER BY filename). */
  allFiles(): FileRow[] {
    return this.bulk('SELECT filename, checktxt FROM file ORDER BY filename', ['filename', 'checktxt'], [])
      .map((r) => ({ filename: urlDecode(r[0]!), checktxt: urlDecode(r[1] ?? '') }));
  }

  /**
   * The raw (still url-encoded) file rows in name order: the row of `name`, or all rows (null),
   * a page of FILE_PAGE at a time (keyset pagination). LIST sends one page while it reads the
   * next, and -T merges them while the peer's rows arrive, instead of waiting for the whole
   * table first (tree50k: ~0.2 s before the first row).
   */
  *filesEncodedPaged(name: BStr | null): Generator<EncodedFileRow[]> {
    // bulk() gives every selected column, '' for NULL: the rows are the pairs (no object per row).
    if (name !== null) {
      yield this.bulk('SELECT filename, checktxt FROM file WHERE filename = CAST(? AS TEXT)',
        ['filename', 'checktxt'], [textParam(urlEncode(name))]) as EncodedFileRow[];
      return;
    }
    let after: BStr | null = null;
    for (;;) {
      const rows = this.bulk(`SELECT filename, checktxt FROM file${after === null ? '' : ' WHERE filename > CAST(? AS TEXT)'} ` +
        `ORDER BY filename LIMIT ${FILE_PAGE}`, ['filename', 'checktxt'], after === null ? [] : [textParam(after)]) as EncodedFileRow[];
      yield rows;
      if (rows.length < FILE_PAGE) return;
      after = rows[rows.length - 1]![0]!;
    }
  }

  getChecktxt(name: BStr): BStr | null {
    const rows = this.bulk('SELECT checktxt FROM file WHERE filename = CAST(? AS TEXT)', ['checktxt'],
      [textParam(urlEncode(name))]);
    return rows.length ? urlDecode(rows[0]![0]!) : null;
  }

  /** Replace the row for `name` (csync2: DELETE then INSERT). */
  putFile(name: BStr, checktxt: BStr): void {
    const enc = textParam(urlEncode(name));
    this.write('DELETE FROM file WHERE filename = CAST(? AS TEXT)', enc);
    this.write('INSERT INTO file (filename, checktxt) VALUES (CAST(? AS TEXT), CAST(? AS TEXT))',
      enc, textParam(urlEncode(checktxt)));
  }

  deleteFile(name: BStr): void {
    this.write('DELETE FROM file WHERE filename = CAST(? AS TEXT)', textParam(urlEncode(name)));
  }

  /** Names of file rows strictly below `name` (for -m -r); `/` = every row. */
  fileNamesBelow(name: BStr): BStr[] {
    if (name === '/') {
      return this.bulk('SELECT filename FROM file', ['filename'], []).map((r) => urlDecode(r[0]!));
    }
    const [lo, hi] = below(urlEncode(name));
    return this.bulk('SELECT filename FROM file WHERE filename > CAST(? AS TEXT) AND filename < CAST(? AS TEXT)',
      ['filename'], [textParam(lo), textParam(hi)]).map((r) => urlDecode(r[0]!));
  }

  /** update.c csync_find_files_recursive: the row `name` and the rows strictly below it, ordered. */
  fileNamesAtOrBelow(name: BStr): BStr[] {
    const enc = urlEncode(name);
    const [lo, hi] = below(enc);
    return this.bulk('SELECT filename FROM file WHERE filename = CAST(? AS TEXT) UNION ALL '
      + 'SELECT filename FROM file WHERE filename > CAST(? AS TEXT) AND filename < CAST(? AS TEXT) ORDER BY filename',
    ['filename'], [textParam(enc), textParam(lo), textParam(hi)]).map((r) => urlDecode(r[0]!));
  }

  // ---- dirty --------------------------------------------------------------

  markDirty(name: BStr, forced: boolean, myname: BStr, peername: BStr): void {
    const f = textParam(urlEncode(name));
    const p = textParam(urlEncode(peername));
    this.write('DELETE FROM dirty WHERE filename = CAST(? AS TEXT) AND peername = CAST(? AS TEXT)', f, p);
    // Literal 0/1: better-sqlite3 binds JS numbers as REAL, csync2 stores INTEGER.
    this.write(`INSERT INTO dirty (filename, forced, myname, peername) VALUES (CAST(? AS TEXT), ${forced ? 1 : 0}, CAST(? AS TEXT), CAST(? AS TEXT))`,
      f, textParam(urlEncode(myname)), p);
  }

  deleteDirty(name: BStr, peername: BStr): void {
    this.write('DELETE FROM dirty WHERE filename = CAST(? AS TEXT) AND peername = CAST(? AS TEXT)',
      textParam(urlEncode(name)), textParam(urlEncode(peername)));
  }

  /** FLUSH: drop the rows of every peer. */
  deleteDirtyAllPeers(name: BStr): void {
    this.write('DELETE FROM dirty WHERE filename = CAST(? AS TEXT)', textParam(urlEncode(name)));
  }

  /** One query for the daemon's check of a path: has it a file row, a dirty row? */
  rowsOf(name: BStr): { file: boolean; dirty: boolean } {
    const enc = textParam(urlEncode(name));
    const r = this.query('SELECT EXISTS (SELECT 1 FROM file WHERE filename = CAST(? AS TEXT)), ' +
      'EXISTS (SELECT 1 FROM dirty WHERE filename = CAST(? AS TEXT))', [enc, enc])[0]!;
    return { file: r[0] === 1, dirty: r[1] === 1 };
  }

  isDirty(name: BStr): boolean {
    return this.query('SELECT 1 FROM dirty WHERE filename = CAST(? AS TEXT) LIMIT 1',
      [textParam(urlEncode(name))]).length > 0;
  }

  /**
   * -f: set forced = 1 on existing rows for `name`; `below` adds the rows strictly
   * below it, `all` every row (csync2's `or 1=1` for -r /).
   */
  forceDirty(name: BStr, scope: 'exact' | 'below' | 'all'): void {
    const enc = urlEncode(name);
    if (scope === 'all') {
      this.write('UPDATE dirty SET forced = 1 WHERE filename = CAST(? AS TEXT) or 1=1', textParam(enc));
    } else if (scope === 'below') {
      const [lo, hi] = below(enc);
      this.write('UPDATE dirty SET forced = 1 WHERE filename = CAST(? AS TEXT) or (filename > CAST(? AS TEXT) and filename < CAST(? AS TEXT))',
        textParam(enc), textParam(lo), textParam(hi));
    } else {
      this.write('UPDATE dirty SET forced = 1 WHERE filename = CAST(? AS TEXT)', textParam(enc));
    }
  }

  /** Every dirty row, ordered by encoded filename (-M). */
  allDirty(): DirtyRow[] {
    return this.bulk('SELECT forced, myname, peername, filename FROM dirty ORDER BY filename',
      ['forced', 'myname', 'peername', 'filename'], [])
      .map((r) => ({
        forced: Number.parseInt(r[0] ?? '0', 10) !== 0,
        myname: urlDecode(r[1] ?? ''),
        peername: urlDecode(r[2] ?? ''),
        filename: urlDecode(r[3] ?? ''),
      }));
  }

  /** How many dirty rows there are, for all peers. */
  dirtyCount(): number {
    return Number(this.query('SELECT count(*) FROM dirty', [])[0]?.[0] ?? 0);
  }

  /** `SELECT peername FROM dirty GROUP BY peername`, decoded. */
  dirtyPeers(): BStr[] {
    return this.bulk('SELECT peername FROM dirty GROUP BY peername', ['peername'], [])
      .map((r) => urlDecode(r[0] ?? ''));
  }

  /** The rows for one peer ordered by encoded filename ascending. */
  dirtyForPeer(peername: BStr): DirtyRow[] {
    return this.bulk('SELECT filename, myname, forced FROM dirty WHERE peername = CAST(? AS TEXT) ORDER BY filename ASC',
      ['filename', 'myname', 'forced'], [textParam(urlEncode(peername))])
      .map((r) => ({
        filename: urlDecode(r[0] ?? ''),
        myname: urlDecode(r[1] ?? ''),
        forced: Number.parseInt(r[2] ?? '0', 10) !== 0,
        peername,
      }));
  }

  /** -R: remove one exact dirty row. */
  deleteDirtyRow(row: DirtyRow): void {
    this.write('DELETE FROM dirty WHERE filename = CAST(? AS TEXT) AND myname = CAST(? AS TEXT) AND peername = CAST(? AS TEXT)',
      textParam(urlEncode(row.filename)), textParam(urlEncode(row.myname)), textParam(urlEncode(row.peername)));
  }

  // ---- hint ---------------------------------------------------------------

  addHint(name: BStr, recursive: boolean): void {
    this.write(`INSERT INTO hint (filename, recursive) VALUES (CAST(? AS TEXT), ${recursive ? 1 : 0})`,
      textParam(urlEncode(name)));
  }

  /** Hints in table order (`SELECT filename, recursive FROM hint`), or by name for -H. */
  hints(ordered: boolean): { filename: BStr; recursive: number; recursiveText: BStr }[] {
    const sql = ordered ? 'SELECT recursive, filename FROM hint ORDER BY filename' : 'SELECT recursive, filename FROM hint';
    return this.bulk(sql, ['recursive', 'filename'], []).map((r) => ({
      recursiveText: r[0] ?? '',
      recursive: Number.parseInt(r[0] ?? '0', 10) || 0,
      filename: urlDecode(r[1] ?? ''),
    }));
  }

  deleteHint(name: BStr, recursive: number): void {
    this.write('DELETE FROM hint WHERE filename = CAST(? AS TEXT) and recursive = ?',
      textParam(urlEncode(name)), BigInt(recursive));
  }

  // ---- action -------------------------------------------------------------

  addAction(name: BStr, command: BStr, logfile: BStr): void {
    this.write('INSERT INTO action (filename, command, logfile) VALUES (CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT))',
      textParam(urlEncode(name)), textParam(urlEncode(command)), textParam(urlEncode(logfile)));
  }

  /** Distinct (command, logfile) pairs, still url-encoded as stored. */
  actionCommands(): { command: BStr; logfile: BStr }[] {
    return this.bulk('SELECT command, logfile FROM action GROUP BY command, logfile', ['command', 'logfile'], [])
      .map((r) => ({ command: r[0] ?? '', logfile: r[1] ?? '' }));
  }

  /** File names (as stored, url-encoded) scheduled for one encoded (command, logfile). */
  actionFiles(commandEnc: BStr, logfileEnc: BStr): BStr[] {
    return this.bulk('SELECT filename from action WHERE command = CAST(? AS TEXT) and logfile = CAST(? AS TEXT)',
      ['filename'], [textParam(commandEnc), textParam(logfileEnc)]).map((r) => r[0] ?? '');
  }

  deleteAction(commandEnc: BStr, logfileEnc: BStr, filenameEnc: BStr): void {
    this.write('DELETE FROM action WHERE command = CAST(? AS TEXT) and logfile = CAST(? AS TEXT) and filename = CAST(? AS TEXT)',
      textParam(commandEnc), textParam(logfileEnc), textParam(filenameEnc));
  }

  // ---- x509_cert ----------------------------------------------------------

  getCert(peername: BStr): BStr | null {
    const rows = this.bulk('SELECT certdata FROM x509_cert WHERE peername = CAST(? AS TEXT)', ['certdata'],
      [textParam(urlEncode(peername))]);
    return rows.length ? urlDecode(rows[0]![0] ?? '') : null;
  }

  addCert(peername: BStr, certHex: BStr): void {
    this.write('INSERT INTO x509_cert (peername, certdata) VALUES (CAST(? AS TEXT), CAST(? AS TEXT))',
      textParam(urlEncode(peername)), textParam(urlEncode(certHex)));
    // A pinned certificate must survive a crash right after the handshake.
    this.commit();
  }
}

let addonOption: { nativeBinding?: string } | undefined;

/**
 * The addon's path as `npm ci` builds it, so better-sqlite3 skips its search through the
 * `bindings` package (a dozen failed opens at every start); its own search where it is elsewhere.
 */
function nativeBinding(): { nativeBinding?: string } {
  if (addonOption === undefined) {
    addonOption = {};
    try {
      const pkg = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
      const addon = join(dirname(pkg), 'build', 'Release', 'better_sqlite3.node');
      if (existsSync(addon)) addonOption = { nativeBinding: addon };
    } catch {
      // not resolvable from here: the default search
    }
  }
  return addonOption;
}
