/**
 * Beyond csync2: a cache of parsed configs. Every csync2 start parses its
 * config, and our parser (chevrotain and the grammar) costs ~65 ms to load, a
 * quarter of a `csync2 -u` with nothing to do. The cache keeps the builder calls
 * of a successful parse (recording.ts) under a key of the file's name and bytes
 * and of the parser's own files; an entry counts only when every included file
 * still reads the same. Anything odd (no entry, another key, a file we did not
 * write, a broken entry) is a miss: the config is parsed as always.
 *
 * Where, and which files are trusted: util/private-cache.ts ($CSYNC2_TS_CACHE_DIR,
 * /var/cache/csync2-ts for root; owned by us and writable by nobody else).
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toBuf, type BStr } from '../util/bytes.js';
import { cacheDir, keepNewest, nameHash, readPrivateFile, trustedDir, writePrivateFile } from '../util/private-cache.js';
import { isCallList, type CallRecord } from './recording.js';

/** Bumped when the entry layout or the recording format changes. */
const FORMAT = 2;
/** Entries kept; a miss that writes beyond this removes the oldest. */
const MAX_ENTRIES = 64;

/**
 * The files whose code decides what a parse records (a rebuild or upgrade invalidates every entry),
 * beside this module's own file: in the CommonJS bundle (scripts/bundle.mjs) that one holds them all.
 */
const PARSER_FILES = ['parse.js', 'parser.js', 'lexer.js', 'source.js', 'recording.js', 'chevrotain.js'];

/**
 * What an entry was made from is kept whole and compared byte for byte (configs are small), not
 * hashed: node's crypto module costs ~9 ms to load, and a no-op `-u` or `-cr` needs it for nothing else.
 */
interface Entry {
  format: number;
  stamp: string;
  file: string;
  /** The config's bytes, base64. */
  config: string;
  /** Each included file and its bytes, base64. */
  includes: [name: BStr, bytes: string][];
  calls: CallRecord[];
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

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** The entry's name: a hash of the config's path (two paths that share one just take turns). */
function entryPath(dir: string, file: string): string {
  return `${dir}/cfg-${nameHash(file)}.json`;
}

/** The recorded calls for the config `file` with content `bytes`, or null (no current entry). Never throws. */
export function lookupParse(file: string, bytes: Uint8Array, env: NodeJS.ProcessEnv = process.env): CallRecord[] | null {
  const dir = cacheDir(env);
  if (dir === null) return null;
  try {
    if (!trustedDir(dir)) return null;
    const text = readPrivateFile(entryPath(dir, file));
    if (text === null) return null;
    const e = JSON.parse(text.toString('utf8')) as Entry;
    if (e.format !== FORMAT || e.stamp !== stampOfParser() || e.file !== file || e.config !== base64(bytes)
      || !Array.isArray(e.includes) || !isCallList(e.calls)) return null;
    // Includes are opened as the scanner opens them (relative to the working directory).
    for (const [name, content] of e.includes) {
      if (base64(readFileSync(toBuf(name))) !== content) return null;
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
    const entry: Entry = {
      format: FORMAT, stamp: stampOfParser(), file, config: base64(bytes), includes: includes.map(([n, b]) => [n, base64(b)]), calls,
    };
    if (writePrivateFile(dir, entryPath(dir, file), [Buffer.from(JSON.stringify(entry))])) keepNewest(dir, 'cfg-', MAX_ENTRIES);
  } catch {
    // read-only file system, a foreign directory, a full disk: parse every time
  }
}
