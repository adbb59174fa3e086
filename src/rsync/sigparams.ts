/**
 * Signature parameters: what the caller asks for (SigOptions) resolved into the
 * exact values written in a signature header, the way librsync's rs_sig_args
 * does it.
 */
import { RsyncParamError } from './errors.js';
import {
  DEFAULT_BLOCK_LEN, MAX_STRONG_LEN, sigMagic, type StrongHash, type WeakSum,
} from './format.js';

export interface SigOptions {
  /** Bytes per block. Default 2048 (csync2); 0 = librsync's recommendation for the file size. */
  blockLen?: number;
  /** Bytes of each strong sum kept. Default 0 = the hash's full length; -1 = librsync's minimum. */
  strongLen?: number;
  /** Default 'md4' (csync2). rdiff's default is 'blake2'. */
  hash?: StrongHash;
  /** Default 'rollsum' (csync2). rdiff's default is 'rabinkarp'. */
  weak?: WeakSum;
}

export interface SigParams {
  magic: number;
  hash: StrongHash;
  weak: WeakSum;
  blockLen: number;
  strongLen: number;
}

/** Largest block length a signature header can carry (librsync reads it as a signed int). */
export const MAX_BLOCK_LEN = 0x7fffffff;

/**
 * librsync's recommended block length: 256 up to 64 KiB, then the integer square
 * root of the size rounded down to a multiple of 128; 2048 when the size is unknown (< 0).
 */
export function recommendedBlockLen(fileSize: number): number {
  if (fileSize < 0) return DEFAULT_BLOCK_LEN;
  if (fileSize <= 256 * 256) return 256;
  let root = Math.floor(Math.sqrt(fileSize));
  while (root * root > fileSize) root--;
  while ((root + 1) * (root + 1) <= fileSize) root++;
  return root - (root % 128);
}

/**
 * librsync's minimum strong-sum length: enough bits that a delta of a file up to
 * 16 MiB larger is unlikely to see a false match; 12 when the size is unknown.
 */
export function minStrongLen(fileSize: number, blockLen: number): number {
  if (fileSize < 0) return 12;
  return 2 + Math.floor((floorLog2(fileSize + 2 ** 24) + floorLog2(Math.floor(fileSize / blockLen) + 1) + 7) / 8);
}

function floorLog2(n: number): number {
  let bits = 0;
  while (n >= 2) { n = Math.floor(n / 2); bits++; }
  return bits;
}

/**
 * Resolves options into header values. `fileSize` (< 0 = unknown) is only used by
 * blockLen 0 and strongLen -1. Impossible values throw RsyncParamError (an RsyncError).
 */
export function resolveSigParams(opts: SigOptions = {}, fileSize = -1): SigParams {
  const hash = opts.hash ?? 'md4';
  const weak = opts.weak ?? 'rollsum';
  if (hash !== 'md4' && hash !== 'blake2') throw new RsyncParamError(`unknown hash algorithm '${String(hash)}'`);
  if (weak !== 'rollsum' && weak !== 'rabinkarp') throw new RsyncParamError(`unknown rollsum algorithm '${String(weak)}'`);
  let blockLen = opts.blockLen ?? DEFAULT_BLOCK_LEN;
  if (!Number.isInteger(blockLen) || blockLen < 0 || blockLen > MAX_BLOCK_LEN) {
    throw new RsyncParamError(`invalid block length ${blockLen}`);
  }
  if (blockLen === 0) blockLen = recommendedBlockLen(fileSize);
  const max = MAX_STRONG_LEN[hash];
  let strongLen = opts.strongLen ?? 0;
  if (!Number.isInteger(strongLen) || strongLen < -1 || strongLen > max) {
    throw new RsyncParamError(`invalid strong sum length ${strongLen} for ${hash}`);
  }
  if (strongLen === 0) strongLen = max;
  else if (strongLen === -1) strongLen = minStrongLen(fileSize, blockLen);
  return { magic: sigMagic(hash, weak), hash, weak, blockLen, strongLen };
}
