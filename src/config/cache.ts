/**
 * Beyond csync2: a cache of parsed configs. Every csync2 start parses its
 * config, and our parser (chevrotain and the grammar) costs ~65 ms to load, a
 * quarter of a `csync2 -u` with nothing to do. The cache keeps the builder calls
 * of a successful parse (recording.ts) under a key of the file's name and bytes
 * and of the parser's own files; an entry counts only when every included file
 * still reads the same. Anything odd (no entry, another key, a file we did not
 * write, a broken entry) is a miss: the config is parsed as always.
 *
 * Where: $CSYNC2_TS_CACHE_DIR (empty or `off`: no cache), else
 * /var/cache/csync2-ts for root, else $XDG_CACHE_HOME/csync2-ts or
 * ~/.cache/csync2-ts. Only a directory and files owned by the effective user
 * and writable by nobody else are read.
 */
import { createHash } from 'node:crypto';
import {
  closeSync, constants as C, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync,
  unlinkSync, writeSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toBuf, type BStr } from '../util/bytes.js';
import { isCallList, type CallRecord } from './recording.js';

/** Bumped when the entry layout or the recording format changes. */
const FORMAT = 1;
/** Entries kept; a miss that writes beyond this removes the oldest. */
const MAX_ENTRIES = 64;
const ENV = 'CSYNC2_TS_CACHE_DIR';

/**
 * The files whose code decides what a parse records (a rebuild or upgrade invalidates every entry),
 * beside this module's own file: in the CommonJS bundle (scripts/bundle.mjs) that one holds them all.
 */
const PARSER_FILES = ['parse.js', 'parser.js', 'lexer.js', 'source.js', 'recording.js', 'chevrotain.js'];

interface Entry {
  format: number;
  key: string;
  includes: [name: BStr, sha1: string][];
  calls: CallRecord[];
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const set = env[ENV];
  if (set !== undefined) return set === '' || set === 'off' ? null : set;
  if (process.geteuid?.() === 0) return '/var/cache/csync2-ts';
  const base = env.XDG_CACHE_HOME || (env.HOME ? `${env.HOME}/.cache` : '');
  return base ? `${base}/csync2-ts` : null;
}

let parserStamp: string | null = null;

/** Size and modification time of the parser's files, as one string. */
function stampOfParser(): string {
  if (parserStamp !== null) return parserStamp;
  const parts: string[] = [];
  for (const url of [import.meta.url, ...PARSER_FILES.map((f) => new URL(`./${f}`, import.meta.url))]) {
    const st = statSync(fileURLToPath(url), { throwIfNoEntry: false });
    parts.push(st ? `${st.size}:${st.mtimeMs}` : '-');
  }
  return (parserStamp = parts.join(','));
}

function sha1(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha1');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p).update('\0');
  return h.digest('hex');
}

function keyOf(file: string, bytes: Uint8Array): string {
  return sha1(String(FORMAT), stampOfParser(), file, bytes);
}

function entryPath(dir: string, file: string): string {
  return `${dir}/cfg-${sha1(file).slice(0, 20)}.json`;
}

/** Ours alone: owned by the effective user, writable by nobody else. */
function ownedAndPrivate(st: { uid: number; mode: number }): boolean {
  const euid = process.geteuid?.();
  return (euid === undefined || st.uid === euid) && (st.mode & 0o022) === 0;
}

function trustedDir(dir: string): boolean {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  return st !== undefined && st.isDirectory() && ownedAndPrivate(st);
}

/** The recorded calls for the config `file` with content `bytes`, or null (no current entry). Never throws. */
export function lookupParse(file: string, bytes: Uint8Array, env: NodeJS.ProcessEnv = process.env): CallRecord[] | null {
  const dir = cacheDir(env);
  if (dir === null) return null;
  try {
    if (!trustedDir(dir)) return null;
    const fd = openSync(entryPath(dir, file), C.O_RDONLY | C.O_NOFOLLOW);
    let text: string;
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || !ownedAndPrivate(st)) return null;
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
    const e = JSON.parse(text) as Entry;
    if (e.format !== FORMAT || e.key !== keyOf(file, bytes) || !Array.isArray(e.includes) || !isCallList(e.calls)) return null;
    // Includes are opened as the scanner opens them (relative to the working directory).
    for (const [name, sum] of e.includes) {
      if (sha1(readFileSync(toBuf(name))) !== sum) return null;
    }
    return e.calls;
  } catch {
    return null;
  }
}

/** Keep the calls of a successful parse. Never throws (a cache that cannot be written is just not used). */
export function storeParse(file: string, bytes: Uint8Array, includes: [BStr, Uint8Array][], calls: CallRecord[],
  env: NodeJS.ProcessEnv = process.env): void {
  const dir = cacheDir(env);
  if (dir === null) return;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!trustedDir(dir)) return;
    const entry: Entry = {
      format: FORMAT, key: keyOf(file, bytes), includes: includes.map(([n, b]) => [n, sha1(b)]), calls,
    };
    const path = entryPath(dir, file);
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, JSON.stringify(entry));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    prune(dir);
  } catch {
    // read-only file system, a foreign directory, a full disk: parse every time
  }
}

/** At most MAX_ENTRIES entries: the least recently written go. */
function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.startsWith('cfg-'));
  if (names.length <= MAX_ENTRIES) return;
  const aged = names.map((n) => ({ n, t: statSync(`${dir}/${n}`, { throwIfNoEntry: false })?.mtimeMs ?? 0 }));
  aged.sort((a, b) => a.t - b.t);
  for (const { n } of aged.slice(0, aged.length - MAX_ENTRIES)) {
    try {
      unlinkSync(`${dir}/${n}`);
    } catch {
      // gone already
    }
  }
}
