/**
 * Binary framing: `octet-stream <N>\n` followed by exactly N bytes. N < 0 (and
 * the word `ERROR`) mean "error, no data"; any other header is fatal.
 */
import type { BStr } from '../util/bytes.js';
import { ProtocolError } from '../util/errors.js';

export const FORMAT_ERROR = 'Format-error while receiving data.';

/** The header line for an N-byte payload (N = -1 announces an error). */
export function frameHeader(n: number): BStr {
  return `octet-stream ${n}\n`;
}

/** The whole frame of a small payload as one buffer (header + data). */
export function encodeFrame(payload: Uint8Array): Buffer {
  const head = Buffer.from(frameHeader(payload.length), 'latin1');
  return Buffer.concat([head, payload]);
}

/** Returned by parseFrameHeader for `octet-stream -N` and `ERROR`: the sender had no data. */
export const FRAME_ERROR = -1;

/**
 * Beyond csync2 (XPATCHS, replies.ts): a payload sent as a run of frames, each
 * `octet-stream <n>` with n > 0 and its bytes, ended by `octet-stream 0`; the
 * sender may give up with `octet-stream -1` instead of a next frame.
 */
export const FRAME_CHUNKED = -2;

/** A chunked payload whose sender gave up (`octet-stream -1`): what came so far is dropped. */
export class ChunkedAbort extends Error {
  constructor() {
    super('the sender ended its chunked data with octet-stream -1');
  }
}

// sscanf("octet-stream %ld"): the blank in the format matches any run of white
// space (also none), %ld skips more white space and takes an optional sign and
// digits; whatever follows the number is ignored.
const HEADER = /^octet-stream[ \t\n\v\f\r]*([+-]?)([0-9]+)/;

/**
 * Parse a received header line (without its LF). Returns the payload size >= 0,
 * or FRAME_ERROR for a negative size or (when `allowErrorWord`) the line `ERROR`.
 * Anything else throws ProtocolError `Format-error while receiving data.`.
 * csync2 accepts `ERROR` only where it receives a file, not for SIG signatures.
 */
export function parseFrameHeader(line: BStr, allowErrorWord = true): number {
  const m = HEADER.exec(line);
  if (!m) {
    if (allowErrorWord && line === 'ERROR') return FRAME_ERROR;
    throw new ProtocolError(FORMAT_ERROR, undefined, undefined, `bad frame header ${JSON.stringify(line)}`);
  }
  const digits = m[2]!.replace(/^0+(?=.)/, '');
  if (m[1] === '-') return digits === '0' ? 0 : FRAME_ERROR;
  // A size beyond 2^53 cannot be counted exactly and no real payload is that big.
  if (digits.length > 16 || Number(digits) > Number.MAX_SAFE_INTEGER) {
    throw new ProtocolError(FORMAT_ERROR, undefined, undefined, `absurd frame size ${digits}`);
  }
  return Number(digits);
}
