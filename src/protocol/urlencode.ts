/**
 * csync2's own URL encoding (urlencode.c), used for every name on the wire and
 * every string in the database. Encoded: bytes 0x01-0x20, 0x7F and `"'%$:|\`,
 * as %XX with upper-case hex. Everything else (including bytes >= 0x80) is raw.
 */
import type { BStr } from '../util/bytes.js';

const HEX = '0123456789ABCDEF';
/** Which byte values need encoding. */
const NEEDS = new Uint8Array(256);
for (let c = 1; c <= 0x20; c++) NEEDS[c] = 1;
NEEDS[0x7f] = 1;
for (const ch of '"\'%$:|\\') NEEDS[ch.charCodeAt(0)] = 1;

const SAFE = /^[^\x01-\x20\x7f"'%$:|\\]*$/;

export function urlEncode(s: BStr): BStr {
  if (SAFE.test(s)) return s;
  let out = '';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (NEEDS[c & 0xff]) {
      out += s.slice(start, i) + '%' + HEX[c >> 4] + HEX[c & 15];
      start = i + 1;
    }
  }
  return out + s.slice(start);
}

/**
 * Decoding as csync2 does it: a `%` followed by at least two more characters is
 * replaced by strtol(those two, 16) (invalid hex yields a partial value; the
 * byte 0 ends the C string, so we cut there); a `%` near the end stays literal.
 */
export function urlDecode(s: BStr): BStr {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 0x25 || i + 2 >= s.length) continue;
    const v = strtolHex2(s.charCodeAt(i + 1), s.charCodeAt(i + 2));
    out += s.slice(start, i);
    if (v === 0) return out; // the C string ends at a NUL byte
    out += String.fromCharCode(v);
    i += 2;
    start = i + 1;
  }
  return out + s.slice(start);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * strtol(two chars, 16): optional leading whitespace and sign, then hex digits
 * until the first non-digit. Within two characters that leaves these cases.
 */
function strtolHex2(a: number, b: number): number {
  const ha = hexVal(a);
  if (ha >= 0) {
    const hb = hexVal(b);
    return hb >= 0 ? ha * 16 + hb : ha;
  }
  // strtol skips leading white space and accepts a sign before the digits.
  if (a === 0x20 || (a >= 0x09 && a <= 0x0d) || a === 0x2b) {
    const hb = hexVal(b);
    return hb >= 0 ? hb : 0;
  }
  if (a === 0x2d) {
    const hb = hexVal(b);
    return hb >= 0 ? (256 - hb) & 0xff : 0; // (char)(-x)
  }
  return 0;
}
