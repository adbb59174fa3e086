/**
 * The directory where csync2-ts keeps what it can rebuild at any time (parsed configs,
 * config/cache.ts; compiled code, launcher/start.ts), and the rules for trusting it:
 * a directory and files owned by the effective user and writable by nobody else.
 *
 * Where: $CSYNC2_TS_CACHE_DIR (empty or `off`: no cache), else /var/cache/csync2-ts
 * for root, else $XDG_CACHE_HOME/csync2-ts or ~/.cache/csync2-ts.
 */
import {
  closeSync, constants as C, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync,
  unlinkSync, writeSync,
} from 'node:fs';

const ENV = 'CSYNC2_TS_CACHE_DIR';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const set = env[ENV];
  if (set !== undefined) return set === '' || set === 'off' ? null : set;
  if (process.geteuid?.() === 0) return '/var/cache/csync2-ts';
  const base = env.XDG_CACHE_HOME || (env.HOME ? `${env.HOME}/.cache` : '');
  return base ? `${base}/csync2-ts` : null;
}

/** 16 hex digits for a file name: two FNV-1a hashes of `text`'s char codes. */
export function nameHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
  return hex(a) + hex(b);
}

/** Ours alone: owned by the effective user, writable by nobody else. */
function ownedAndPrivate(st: { uid: number; mode: number }): boolean {
  const euid = process.geteuid?.();
  return (euid === undefined || st.uid === euid) && (st.mode & 0o022) === 0;
}

export function trustedDir(dir: string): boolean {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  return st !== undefined && st.isDirectory() && ownedAndPrivate(st);
}

/** The bytes of `path` if it is a regular file we alone could have written (not through a link), else null. Throws on I/O errors. */
export function readPrivateFile(path: string): Buffer | null {
  const fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    return st.isFile() && ownedAndPrivate(st) ? readFileSync(fd) : null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `path` (in `dir`) with `chunks` at once: a private temp file renamed over it, so a
 * reader sees the old file or the new one, never a part. False when `dir` is not ours. Throws on
 * I/O errors, after removing its temp file (a full disk must not fill up further with them).
 */
export function writePrivateFile(dir: string, path: string, chunks: Uint8Array[]): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!trustedDir(dir)) return false;
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
  try {
    try {
      for (const chunk of chunks) {
        for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
      }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return true;
}

/** A temp file this old was left by a writer that was killed: removed when the directory is pruned. */
const STALE_TEMP_MS = 3600_000;

/**
 * At most `keep` files named `prefix`* in `dir`: the least recently written go. Temp files do not
 * count (a writer may be at work on one); those left behind an hour ago go too.
 */
export function keepNewest(dir: string, prefix: string, keep: number): void {
  const aged: { n: string; t: number }[] = [];
  const stale = Date.now() - STALE_TEMP_MS;
  for (const n of readdirSync(dir)) {
    if (!n.startsWith(prefix)) continue;
    const t = statSync(`${dir}/${n}`, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (!n.endsWith('.tmp')) aged.push({ n, t });
    else if (t < stale) removeQuietly(`${dir}/${n}`);
  }
  if (aged.length <= keep) return;
  aged.sort((a, b) => a.t - b.t);
  for (const { n } of aged.slice(0, aged.length - keep)) removeQuietly(`${dir}/${n}`);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
