/** The strong sum of one block, for either hash a signature may use. */
import { blake2b256 } from './blake2b.js';
import type { StrongHash } from './format.js';
import { md4 } from './md4.js';
import { MD4_FAST_MAX, md4Fast } from './md4wasm.js';

/** Writes the full strong hash (16 or 32 bytes) of src[off, off + len) into out at outOff. */
export function strongSum(hash: StrongHash, src: Uint8Array, off: number, len: number,
  out: Uint8Array, outOff: number): void {
  if (hash === 'md4') {
    if (len <= MD4_FAST_MAX) md4Fast(src, off, len, out, outOff);
    else md4(src, off, len, out, outOff);
  }
  else blake2b256(src, off, len, out, outOff);
}
