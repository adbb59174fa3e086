/**
 * Temp files for content writes, named and placed like csync2's (rsync.c):
 * `.<basename>.XXXXXX` (one leading dot of the basename dropped, long names
 * shortened to fit NAME_MAX), created 0600 with O_EXCL in the first usable
 * directory of: the config's `tempdir`, the target's own directory, $TMPDIR,
 * /tmp. A candidate that is not an existing directory is dropped; creation
 * moves on to the next candidate only on ENOENT, as csync2 does.
 *
 * Beyond csync2, stale temp files are found and removed: the first name tried
 * for a target is always the same (`.<basename>.csTemp`), so a temp file left
 * by a killed process is met again by the next write of that file. It is
 * removed when no process has it open (our own live temps are registered;
 * other processes are looked up in /proc); otherwise a random name that still
 * says whose it is (`.cs` + 4 characters) is used. A daemon stopped by a signal
 * removes the temp files it was writing.
 */
import { readdir, readlink, stat, unlink } from 'node:fs/promises';
import { constants as C, openSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { log } from '../util/log.js';
import { fsPath, type BStr } from '../util/bytes.js';

export { isOurTempName } from './tempname.js';

const MAXPATHLEN = 4096;
const NAME_MAX = 255;
const SUFFIX_LEN = 7; // ".XXXXXX"
/** The first suffix tried for every target (see the module comment). */
export const STABLE_SUFFIX = 'csTemp';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** glibc gives up after this many EEXIST collisions; we need far fewer. */
const MAX_TRIES = 100;

const reportedDrops = new Set<BStr>();

/** Temp files this process is writing right now (absolute paths). */
const liveTemps = new Set<BStr>();

export interface TempFile {
  /** Absolute (or, for a relative target, relative) path of the temp file. */
  path: BStr;
  /** Open read/write. */
  fd: number;
}

/**
 * csync2's get_tmpname(): the temp name (with `XXXXXX` where the unique part
 * goes) for `target` in `dir` (null = the target's own directory), or null when
 * no name fits.
 */
export function tempNameTemplate(dir: BStr | null, target: BStr): BStr | null {
  let head = '';
  if (dir !== null) head = dir.slice(0, MAXPATHLEN - 3) + '/';
  const slash = target.lastIndexOf('/');
  let base = slash >= 0 ? target.slice(slash + 1) : target;
  if (dir === null && slash >= 0) head = target.slice(0, slash + 1);
  if (base.charCodeAt(0) === 0x2e /* . */) base = base.slice(1);
  head += '.';
  const maxname = Math.min(MAXPATHLEN - head.length - SUFFIX_LEN, NAME_MAX - 1 - SUFFIX_LEN);
  if (maxname < 0) {
    log.debug(1, `temporary filename too long: ${target}`);
    return null;
  }
  let name: BStr;
  if (maxname > 0) {
    let added = Math.min(base.length, maxname - 1);
    // Do not leave half of a multi-byte character when the cut falls inside one.
    if (added < base.length && base.charCodeAt(added) & 0x80) {
      while (added > 0 && base.charCodeAt(added - 1) & 0x80) added--;
    }
    let kept = head + base.slice(0, added);
    if (kept.endsWith('.')) kept = kept.slice(0, -1);
    name = kept;
  } else {
    name = head.slice(0, -1);
  }
  return name + '.XXXXXX';
}

/**
 * csync2's next_tempdir() list: `tempdir`, the target's directory (null),
 * $TMPDIR, /tmp; non-directories dropped, repeats removed (two "unset"
 * entries count as equal, so without `tempdir` the target's directory is tried
 * first and $TMPDIR only when set).
 */
export async function tempDirCandidates(tempdir: BStr | null, env: NodeJS.ProcessEnv = process.env): Promise<(BStr | null)[]> {
  const raw: (BStr | null)[] = [tempdir, null, env.TMPDIR ?? null, '/tmp', '/tmp'];
  for (let i = 0; i < raw.length; i++) {
    const d = raw[i];
    if (d === null || d === undefined) continue;
    if (d === '') {
      raw[i] = null;
      continue;
    }
    // Synchronous: a metadata call costs microseconds, a thread-pool round trip far more (once per file).
    let ok = false;
    try {
      ok = statSync(fsPath(d)).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) {
      // csync2 says this once per process; a long-running daemon says it once per path.
      if (!reportedDrops.has(d)) {
        reportedDrops.add(d);
        log.debug(1, `dropping tempdir candidate '${d}': not a directory`);
      }
      raw[i] = null;
    }
  }
  const out: (BStr | null)[] = [];
  for (let stage = 0; stage < raw.length; stage++) {
    let seen = false;
    for (let i = 0; i < stage; i++) {
      if (raw[i] === raw[stage]) {
        seen = true;
        break;
      }
    }
    if (!seen) out.push(raw[stage]!);
  }
  return out;
}

/** The candidate list is looked at again after this long (it is asked for once per received file). */
const CANDIDATES_TTL_MS = 1000;
let candidatesCache: { tempdir: BStr | null; tmpdirEnv: string | undefined; at: number; dirs: (BStr | null)[] } | null = null;

/** The candidate list while it is fresh, else null. */
function cachedCandidates(tempdir: BStr | null): (BStr | null)[] | null {
  const c = candidatesCache;
  return c && c.tempdir === tempdir && c.tmpdirEnv === process.env.TMPDIR && Date.now() - c.at < CANDIDATES_TTL_MS ? c.dirs : null;
}

async function candidatesNow(tempdir: BStr | null): Promise<(BStr | null)[]> {
  const cached = cachedCandidates(tempdir);
  if (cached !== null) return cached;
  const dirs = await tempDirCandidates(tempdir);
  candidatesCache = { tempdir, tmpdirEnv: process.env.TMPDIR, at: Date.now(), dirs };
  return dirs;
}

/**
 * Create the temp file for a content write of `target`, trying the candidate
 * directories in csync2's order. Throws the last OS error (errno code) when no
 * directory works.
 */
export function createTempFile(target: BStr, tempdir: BStr | null): Promise<TempFile> {
  // Most of the time the first name in the first directory is free: no awaits (once per received file).
  const dirs = cachedCandidates(tempdir);
  if (dirs !== null && dirs.length > 0) {
    const template = tempNameTemplate(dirs[0]!, target);
    if (template === null) return Promise.reject(nameTooLong());
    const path = template.slice(0, -6) + STABLE_SUFFIX;
    try {
      const fd = openSync(fsPath(path), C.O_RDWR | C.O_CREAT | C.O_EXCL, 0o600);
      liveTemps.add(path);
      return Promise.resolve({ path, fd });
    } catch {
      // Taken, or not possible here: the whole way below (stale temps, other names and directories, the error).
    }
  }
  return createTempFileSlowly(target, tempdir);
}

/**
 * The name createTempFile() tries first (the stable name in the first candidate directory),
 * registered as ours; null when the candidates are not known yet or no name fits. For a temp
 * file created elsewhere (src/fs/newfile-worker.ts): on any failure there, createTempFile().
 */
export function claimFirstTempName(target: BStr, tempdir: BStr | null): BStr | null {
  const dirs = cachedCandidates(tempdir);
  if (dirs === null || dirs.length === 0) return null;
  const template = tempNameTemplate(dirs[0]!, target);
  if (template === null) return null;
  const path = template.slice(0, -6) + STABLE_SUFFIX;
  liveTemps.add(path);
  return path;
}

async function createTempFileSlowly(target: BStr, tempdir: BStr | null): Promise<TempFile> {
  const dirs = await candidatesNow(tempdir);
  let lastErr: unknown = Object.assign(new Error('no temp directory'), { code: 'ENOENT' });
  for (const dir of dirs) {
    const template = tempNameTemplate(dir, target);
    if (template === null) throw nameTooLong();
    try {
      return await createFromTemplate(template);
    } catch (err) {
      lastErr = err;
      log.debug(3, `mkstemp ${template} failed: ${(err as Error).message}`);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') break;
    }
  }
  throw lastErr;
}

function nameTooLong(): Error {
  return Object.assign(new Error('temporary filename too long'), { code: 'ENAMETOOLONG' });
}

async function createFromTemplate(template: BStr): Promise<TempFile> {
  const stem = template.slice(0, -6);
  let path = stem + STABLE_SUFFIX;
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    try {
      // A raw descriptor (not a FileHandle, whose finalizer would close it behind our back).
      // Synchronous: measured faster than a thread-pool hop, even for a slow inode creation.
      const fd = openSync(fsPath(path), C.O_RDWR | C.O_CREAT | C.O_EXCL, 0o600);
      liveTemps.add(path);
      return { path, fd };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (path.endsWith(STABLE_SUFFIX) && tries === 0 && await removeIfStale(path)) continue;
      path = stem + randomSuffix();
    }
  }
  throw Object.assign(new Error('too many temp file collisions'), { code: 'EEXIST' });
}

/** A fallback suffix that still says whose it is: `cs` and four random characters. */
function randomSuffix(): string {
  const b = randomBytes(4);
  let s = 'cs';
  for (let i = 0; i < 4; i++) s += ALPHABET[b[i]! % ALPHABET.length];
  return s;
}

/**
 * The process is about to die of a signal: remove the temp files it is
 * writing (their content never arrived; the client keeps the files dirty).
 */
export function removeLiveTemps(): void {
  for (const path of liveTemps) {
    try {
      unlinkSync(fsPath(path));
    } catch {
      // already gone
    }
  }
  liveTemps.clear();
}

/** The temp file is done with (renamed or removed): it is no longer ours to protect. */
export function releaseTemp(path: BStr): void {
  liveTemps.delete(path);
}

/** Is some live writer (this process, or any process holding it open) using `path`? */
export async function tempInUse(path: BStr): Promise<boolean> {
  if (liveTemps.has(path)) return true;
  return (await openByOtherProcess(path)) !== false;
}

/**
 * Remove a temp file left by a process that died (nobody has it open).
 * Returns true when it was removed.
 */
async function removeIfStale(path: BStr): Promise<boolean> {
  if (liveTemps.has(path)) return false;
  const held = await openByOtherProcess(path);
  if (held !== false) return false;
  try {
    await unlink(fsPath(path));
    log.debug(1, `Removed stale temp file ${path}.`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any process has `path` open, from /proc/<pid>/fd. Returns null when
 * that cannot be known (no /proc), which callers treat as "in use".
 */
async function openByOtherProcess(path: BStr): Promise<boolean | null> {
  let abs = path;
  if (!abs.startsWith('/')) abs = `${process.cwd()}/${path}`;
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((p) => /^[0-9]+$/.test(p));
  } catch {
    return null;
  }
  const want = Buffer.from(abs, 'latin1');
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      try {
        const target = await readlink(`/proc/${pid}/fd/${fd}`, { encoding: 'buffer' });
        if (target.equals(want)) return true;
      } catch {
        // closed meanwhile
      }
    }
  }
  return false;
}
