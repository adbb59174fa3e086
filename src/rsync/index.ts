/**
 * librsync-compatible signature, delta and patch (what csync2 2.0 uses for
 * file contents), streaming and byte-compatible with rdiff / librsync 2.3.
 *
 * csync2's choices are the defaults: MD4 strong sums (16 bytes), rollsum weak
 * sums, 2048-byte blocks. Every signature kind librsync writes can be read.
 */
import { MD4_SIG_MAGIC } from './format.js';

export type { StrongHash, WeakSum } from './format.js';
export {
  BLAKE2_SIG_MAGIC, DEFAULT_BLOCK_LEN, DELTA_MAGIC, MD4_SIG_MAGIC, RK_BLAKE2_SIG_MAGIC, RK_MD4_SIG_MAGIC,
} from './format.js';
export type { SigOptions, SigParams } from './sigparams.js';
export { minStrongLen, recommendedBlockLen, resolveSigParams } from './sigparams.js';
export { SignatureBuilder, signatureOfFile, signatureSizeOf, signatureStream } from './sigbuild.js';
export type { Signature } from './sigload.js';
export { parseSignature, SignatureLoader } from './sigload.js';
export type { DeltaSink } from './fileio.js';
export { writeAll } from './fileio.js';
export { DeltaEncoder, deltaFile, deltaStream } from './delta.js';
export type { Basis, PatchSink } from './patch.js';
export type { DeltaStats } from './stats.js';
export { BasisFile, Patcher, patchToFile } from './patch.js';
export { RsyncError } from '../util/errors.js';
export type { RsyncErrorKind } from './errors.js';
export { RS_RESULT, RsyncParamError, RsyncStreamError } from './errors.js';
export { md4 } from './md4.js';
export { blake2b256 } from './blake2b.js';
export { rabinkarpBlock, rollsumBlock } from './weaksum.js';

/**
 * What csync2 sends for a file that does not exist: a bare MD4 signature header
 * with block length 2048 and strong length 8 (a leftover from librsync 0.9.7).
 * It must stay exactly these 12 bytes; parsed, it is a signature with no blocks.
 */
export const MISSING_FILE_SIGNATURE: Buffer = Buffer.from([
  (MD4_SIG_MAGIC >>> 24) & 0xff, (MD4_SIG_MAGIC >>> 16) & 0xff, (MD4_SIG_MAGIC >>> 8) & 0xff, MD4_SIG_MAGIC & 0xff,
  0x00, 0x00, 0x08, 0x00,
  0x00, 0x00, 0x00, 0x08,
]);
