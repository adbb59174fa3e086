/**
 * The daemon's command-line tokenizer: split on runs of TAB, SPACE, CR and LF,
 * keep at most 32 tokens, url-decode each, pad with empty strings. The C code
 * works on a NUL-terminated buffer, so anything after a NUL byte is invisible.
 */
import type { BStr } from '../util/bytes.js';
import { urlDecode } from './urlencode.js';

/** csync2 keeps tag[0] .. tag[31]; later tokens are dropped. */
export const MAX_TOKENS = 32;

const SEPARATORS = /[\t \r\n]+/;

/** The raw (not decoded) tokens of a line, at most MAX_TOKENS of them. */
export function splitTokens(line: BStr): BStr[] {
  const nul = line.indexOf('\0');
  const text = nul >= 0 ? line.slice(0, nul) : line;
  const tokens = text.split(SEPARATORS);
  // split() yields an empty first/last element when the line starts/ends with a separator.
  if (tokens.length > 0 && tokens[0] === '') tokens.shift();
  if (tokens.length > 0 && tokens[tokens.length - 1] === '') tokens.pop();
  if (tokens.length > MAX_TOKENS) tokens.length = MAX_TOKENS;
  return tokens;
}

/**
 * A command line as the server sees it: exactly MAX_TOKENS url-decoded tokens
 * (missing ones are ''), or null for a line without tokens (ignored, no reply).
 */
export function tokenizeLine(line: BStr): BStr[] | null {
  const raw = splitTokens(line);
  if (raw.length === 0) return null;
  const tags = new Array<BStr>(MAX_TOKENS);
  for (let i = 0; i < MAX_TOKENS; i++) tags[i] = i < raw.length ? urlDecode(raw[i]!) : '';
  return tags;
}

/** ASCII-only lower-casing, like strcasecmp in the C locale (bytes >= 0x80 unchanged). */
export function asciiLower(s: BStr): BStr {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** strcasecmp(a, b) == 0 in the C locale. */
export function equalsIgnoreCase(a: BStr, b: BStr): boolean {
  return a.length === b.length && asciiLower(a) === asciiLower(b);
}
