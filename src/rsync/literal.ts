/**
 * The content of a delta made of LITERAL commands only (what a delta against the empty
 * signature is: an XPATCH of a new file), read in one pass without a Patcher. Anything
 * else (a COPY, an unknown opcode, a truncated command, bytes after END) answers null:
 * the caller then applies the delta the ordinary way, which reports what is wrong with it.
 */
import { DELTA_MAGIC, OP_END, OP_LITERAL_MAX_IMMEDIATE, OP_LITERAL_N1, WIDTHS } from './format.js';

/** The bytes the LITERALs carry, or null: a view into `delta` for one LITERAL (our client's way), else a copy. */
export function literalOnlyContent(delta: Uint8Array): Buffer | null {
  if (delta.length < 5) return null;
  const view = new DataView(delta.buffer, delta.byteOffset, delta.byteLength);
  if (view.getUint32(0) !== DELTA_MAGIC) return null;
  // The output is never longer than the delta: sized once, filled in one pass.
  const runs: number[] = [];
  let total = 0;
  let i = 4;
  for (;;) {
    if (i >= delta.length) return null;
    const op = delta[i++]!;
    if (op === OP_END) break;
    let len: number;
    if (op <= OP_LITERAL_MAX_IMMEDIATE) {
      len = op;
    } else if (op < OP_LITERAL_N1 + WIDTHS.length) {
      const width = WIDTHS[op - OP_LITERAL_N1]!;
      if (i + width > delta.length) return null;
      if (width === 1) len = delta[i]!;
      else if (width === 2) len = view.getUint16(i);
      else if (width === 4) len = view.getUint32(i);
      else if (view.getUint32(i) === 0) len = view.getUint32(i + 4); // our client's XPATCH writes 8-byte lengths
      else return null;
      i += width;
    } else {
      return null; // a COPY (or an opcode librsync does not know)
    }
    if (i + len > delta.length) return null;
    runs.push(i, len);
    total += len;
    i += len;
  }
  if (i !== delta.length) return null;
  if (runs.length === 2) return Buffer.from(delta.buffer, delta.byteOffset + runs[0]!, runs[1]!);
  const out = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (let r = 0; r < runs.length; r += 2) {
    out.set(delta.subarray(runs[r]!, runs[r]! + runs[r + 1]!), at);
    at += runs[r + 1]!;
  }
  return out;
}
