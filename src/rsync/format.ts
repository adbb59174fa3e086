/**
 * librsync's wire constants: signature/delta magics, the kinds of signature,
 * and the delta opcodes (spec librsync-format.md §3 and §5).
 */

export const MD4_SIG_MAGIC = 0x72730136;
export const BLAKE2_SIG_MAGIC = 0x72730137;
export const RK_MD4_SIG_MAGIC = 0x72730146;
export const RK_BLAKE2_SIG_MAGIC = 0x72730147;
export const DELTA_MAGIC = 0x72730236;

export type StrongHash = 'md4' | 'blake2';
export type WeakSum = 'rollsum' | 'rabinkarp';

/** Bytes in a full strong hash: MD4 16, BLAKE2b-256 32. */
export const MAX_STRONG_LEN: Readonly<Record<StrongHash, number>> = { md4: 16, blake2: 32 };

/** csync2 2.0 and librsync's rs_delta_file/rs_sig_file: 2048-byte blocks. */
export const DEFAULT_BLOCK_LEN = 2048;

/** The magic number for a (hash, weak sum) pair. */
export function sigMagic(hash: StrongHash, weak: WeakSum): number {
  return (hash === 'md4' ? MD4_SIG_MAGIC : BLAKE2_SIG_MAGIC) + (weak === 'rabinkarp' ? 0x10 : 0);
}

/** The (hash, weak sum) pair a signature magic stands for, or null for any other number. */
export function sigKind(magic: number): { hash: StrongHash; weak: WeakSum } | null {
  switch (magic >>> 0) {
    case MD4_SIG_MAGIC: return { hash: 'md4', weak: 'rollsum' };
    case BLAKE2_SIG_MAGIC: return { hash: 'blake2', weak: 'rollsum' };
    case RK_MD4_SIG_MAGIC: return { hash: 'md4', weak: 'rabinkarp' };
    case RK_BLAKE2_SIG_MAGIC: return { hash: 'blake2', weak: 'rabinkarp' };
    default: return null;
  }
}

/** Delta opcodes. LITERAL_1..64 are the opcodes 1..64 themselves. */
export const OP_END = 0x00;
export const OP_LITERAL_MAX_IMMEDIATE = 0x40;
/** LITERAL with a 1/2/4/8-byte length: OP_LITERAL_N1 + widthIndex. */
export const OP_LITERAL_N1 = 0x41;
/** COPY: OP_COPY_BASE + 4 * positionWidthIndex + lengthWidthIndex. */
export const OP_COPY_BASE = 0x45;
export const OP_COPY_LAST = 0x54;

/** Byte widths indexed by the 2-bit width index used in the opcodes. */
export const WIDTHS: readonly number[] = [1, 2, 4, 8];

/** The width index librsync picks for a value: the smallest of 1, 2, 4, 8 bytes that holds it. */
export function widthIndex(value: number): number {
  if (value <= 0xff) return 0;
  if (value <= 0xffff) return 1;
  if (value <= 0xffffffff) return 2;
  return 3;
}

/** Literal runs longer than this are cut into several commands (librsync's max_miss). */
export const MAX_LITERAL_RUN = 32768;
