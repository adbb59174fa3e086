/**
 * `csync2 -k FILE`: a new group key, exactly csync2's format: 64 characters of
 * [A-Za-z0-9._] from 48 random bytes, plus a newline; the file is created
 * exclusively with mode 0600.
 */
import { openSync, writeSync, closeSync, unlinkSync, readSync, constants as C } from 'node:fs';
import { strerror } from '../util/errors.js';
import { toBuf, type BStr } from '../util/bytes.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._';

/** Packs 48 random bytes into 64 key characters (4 per 3 bytes, 6 bits each). */
export function packKey(bin: Uint8Array): string {
  let key = '';
  for (let j = 0; j + 2 < bin.length; j += 3) {
    const b0 = bin[j]!, b1 = bin[j + 1]!, b2 = bin[j + 2]!;
    key += ALPHABET[b0 & 63]!;
    key += ALPHABET[((b0 >> 6) | (b1 << 2)) & 63]!;
    key += ALPHABET[((b1 >> 4) | (b2 << 4)) & 63]!;
    key += ALPHABET[(b2 >> 2) & 63]!;
  }
  return key;
}

/** Returns the exit code; messages go to stderr as csync2 prints them. */
export function createKeyFile(file: BStr, stderr: (s: string) => void): number {
  let fd: number;
  try {
    fd = openSync(toBuf(file), C.O_WRONLY | C.O_CREAT | C.O_EXCL, 0o600);
  } catch (err) {
    stderr(`Can't create key file: ${strerror(err)}\n`);
    return 1;
  }
  let rnd: number;
  try {
    rnd = openSync('/dev/urandom', C.O_RDONLY);
  } catch (err) {
    stderr(`Can't open /dev/urandom: ${strerror(err)}\n`);
    return 1;
  }
  const bin = Buffer.alloc(48);
  let n: number;
  try {
    n = readSync(rnd, bin, 0, 48, null);
  } catch (err) {
    stderr(`Failed to read 48 bytes from /dev/urandom: ${strerror(err)}\n`);
    return 255;
  }
  closeSync(rnd);
  if (n !== 48) {
    stderr('Failed to read 48 bytes from /dev/urandom: short read?\n');
    return 255;
  }
  const key = Buffer.from(packKey(bin) + '\n', 'latin1');
  let problem: string | null = null;
  try {
    if (writeSync(fd, key) !== key.length) problem = 'short write?';
  } catch (err) {
    problem = strerror(err);
  }
  try {
    closeSync(fd);
  } catch (err) {
    problem ??= strerror(err);
  }
  if (problem !== null) {
    stderr(`Failed to write out keyfile: ${problem}\n`);
    try { unlinkSync(toBuf(file)); } catch { /* already gone */ }
  }
  return 0;
}
