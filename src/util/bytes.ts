/**
 * Byte strings.
 *
 * csync2 is a C program that never calls setlocale(): file names, keys, config
 * words and wire lines are plain bytes, and fnmatch/strcmp compare bytes. We keep
 * every such value as a "byte string" (BStr): a JS string whose char codes are the
 * bytes 0..255 (Node's 'latin1' encoding). That keeps names that are not valid
 * UTF-8 intact end to end, makes `?` match one byte like fnmatch, and makes
 * sorting equal to SQLite's BINARY collation.
 *
 * Convert at the edges only: fs calls take `toBuf(path)`, output is written with
 * `toBuf(text)`, SQLite text goes through the StateStore.
 */
import { readFileSync } from 'node:fs';

export type BStr = string;

export function toBuf(s: BStr): Buffer {
  return Buffer.from(s, 'latin1');
}

/**
 * A byte string as an fs path argument: the string itself when it is ASCII
 * (Node encodes it as UTF-8, the same bytes; no Buffer to allocate on hot
 * paths), else a Buffer with the exact bytes.
 */
export function fsPath(s: BStr): string | Buffer {
  return isAscii(s) ? s : Buffer.from(s, 'latin1');
}

export function fromBuf(buf: Uint8Array): BStr {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1');
}

/** A normal (UTF-16) JS string, e.g. from process.env, as the UTF-8 bytes it stands for. */
export function fromUtf8(s: string): BStr {
  return isAscii(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

/** A byte string shown as text: decodes its bytes as UTF-8 (for messages in JS exceptions). */
export function toUtf8(s: BStr): string {
  return isAscii(s) ? s : Buffer.from(s, 'latin1').toString('utf8');
}

const NON_ASCII = /[^\x00-\x7f]/;
export function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}

/**
 * The command-line arguments as the raw bytes the kernel passed. process.argv is
 * decoded as UTF-8, which loses bytes that are not valid UTF-8; /proc/self/cmdline
 * has them. Falls back to process.argv when /proc is unavailable.
 */
export function rawArgs(): BStr[] {
  const wanted = process.argv.length - 2;
  const fallback = process.argv.slice(2).map(fromUtf8);
  if (wanted <= 0) return [];
  let all: BStr[];
  try {
    const data = readCmdline();
    if (data === null) return fallback;
    all = data.split('\0');
    if (all.length > 0 && all[all.length - 1] === '') all.pop();
  } catch {
    return fallback;
  }
  if (all.length < wanted) return fallback;
  const tail = all.slice(all.length - wanted);
  // Sanity check: the tail must agree with process.argv wherever that is ASCII.
  for (let i = 0; i < wanted; i++) {
    if (isAscii(process.argv[2 + i]!) && tail[i] !== process.argv[2 + i]) return fallback;
  }
  return tail;
}

function readCmdline(): BStr | null {
  try {
    return readFileSync('/proc/self/cmdline').toString('latin1');
  } catch {
    return null;
  }
}
