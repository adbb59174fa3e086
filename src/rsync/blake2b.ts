/**
 * BLAKE2b with a 32-byte digest (RFC 7693, digest length 32 in the parameter
 * block): the strong sum of rdiff's default signatures. Node's `blake2b512`
 * cannot produce it (a different parameter block, not a truncation), so this is
 * our own. 64-bit words are kept as (lo, hi) int32 pairs in one reused array.
 */

export const BLAKE2B_256_LEN = 32;

const IV = new Int32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

/** Message word order per round, premultiplied by 2 to index (lo, hi) pairs. */
const SIGMA2 = new Uint8Array([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
  7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
  2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
  13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
  10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
].map((x) => x * 2));

const h = new Int32Array(16);
const m = new Int32Array(32);
const block = new Uint8Array(128);

/**
 * Compresses the 128 bytes at src[off..] into h; `count` is the total bytes hashed so far.
 * The working vector lives in 32 locals and G is written out inline (generated): with
 * arrays and a G function this ran at 50 MB/s. Carries use bit logic, not compares, because
 * a data-dependent branch per 64-bit add mispredicts half the time.
 */
function compress(src: Uint8Array, off: number, count: number, last: boolean): void {
  for (let i = 0; i < 32; i++) {
    const p = off + 4 * i;
    m[i] = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24);
  }
  let v0 = h[0], v16 = IV[0], v1 = h[1], v17 = IV[1], v2 = h[2], v18 = IV[2], v3 = h[3], v19 = IV[3];
  let v4 = h[4], v20 = IV[4], v5 = h[5], v21 = IV[5], v6 = h[6], v22 = IV[6], v7 = h[7], v23 = IV[7];
  let v8 = h[8], v24 = IV[8], v9 = h[9], v25 = IV[9], v10 = h[10], v26 = IV[10], v11 = h[11], v27 = IV[11];
  let v12 = h[12], v28 = IV[12], v13 = h[13], v29 = IV[13], v14 = h[14], v30 = IV[14], v15 = h[15], v31 = IV[15];
  v24 ^= count | 0;
  v25 ^= Math.floor(count / 0x100000000) | 0;
  if (last) { v28 = ~v28; v29 = ~v29; }
  let t = 0, w = 0;
  for (let o = 0; o < 192; o += 16) {
      // G0(v0, v4, v8, v12)
      w = m[SIGMA2[o + 0]]; t = (v0 + v8) | 0; v1 = (v1 + v9 + (((v0 & v8) | ((v0 | v8) & ~t)) >>> 31)) | 0;
      v0 = (t + w) | 0; v1 = (v1 + m[SIGMA2[o + 0] + 1] + (((t & w) | ((t | w) & ~v0)) >>> 31)) | 0;
      t = v24 ^ v0; v24 = v25 ^ v1; v25 = t;
      t = (v16 + v24) | 0; v17 = (v17 + v25 + (((v16 & v24) | ((v16 | v24) & ~t)) >>> 31)) | 0; v16 = t;
      t = v8 ^ v16; v9 ^= v17; v8 = (t >>> 24) | (v9 << 8); v9 = (v9 >>> 24) | (t << 8);
      w = m[SIGMA2[o + 1]]; t = (v0 + v8) | 0; v1 = (v1 + v9 + (((v0 & v8) | ((v0 | v8) & ~t)) >>> 31)) | 0;
      v0 = (t + w) | 0; v1 = (v1 + m[SIGMA2[o + 1] + 1] + (((t & w) | ((t | w) & ~v0)) >>> 31)) | 0;
      t = v24 ^ v0; v25 ^= v1; v24 = (t >>> 16) | (v25 << 16); v25 = (v25 >>> 16) | (t << 16);
      t = (v16 + v24) | 0; v17 = (v17 + v25 + (((v16 & v24) | ((v16 | v24) & ~t)) >>> 31)) | 0; v16 = t;
      t = v8 ^ v16; v9 ^= v17; v8 = (t << 1) | (v9 >>> 31); v9 = (v9 << 1) | (t >>> 31);
      // G1(v1, v5, v9, v13)
      w = m[SIGMA2[o + 2]]; t = (v2 + v10) | 0; v3 = (v3 + v11 + (((v2 & v10) | ((v2 | v10) & ~t)) >>> 31)) | 0;
      v2 = (t + w) | 0; v3 = (v3 + m[SIGMA2[o + 2] + 1] + (((t & w) | ((t | w) & ~v2)) >>> 31)) | 0;
      t = v26 ^ v2; v26 = v27 ^ v3; v27 = t;
      t = (v18 + v26) | 0; v19 = (v19 + v27 + (((v18 & v26) | ((v18 | v26) & ~t)) >>> 31)) | 0; v18 = t;
      t = v10 ^ v18; v11 ^= v19; v10 = (t >>> 24) | (v11 << 8); v11 = (v11 >>> 24) | (t << 8);
      w = m[SIGMA2[o + 3]]; t = (v2 + v10) | 0; v3 = (v3 + v11 + (((v2 & v10) | ((v2 | v10) & ~t)) >>> 31)) | 0;
      v2 = (t + w) | 0; v3 = (v3 + m[SIGMA2[o + 3] + 1] + (((t & w) | ((t | w) & ~v2)) >>> 31)) | 0;
      t = v26 ^ v2; v27 ^= v3; v26 = (t >>> 16) | (v27 << 16); v27 = (v27 >>> 16) | (t << 16);
      t = (v18 + v26) | 0; v19 = (v19 + v27 + (((v18 & v26) | ((v18 | v26) & ~t)) >>> 31)) | 0; v18 = t;
      t = v10 ^ v18; v11 ^= v19; v10 = (t << 1) | (v11 >>> 31); v11 = (v11 << 1) | (t >>> 31);
      // G2(v2, v6, v10, v14)
      w = m[SIGMA2[o + 4]]; t = (v4 + v12) | 0; v5 = (v5 + v13 + (((v4 & v12) | ((v4 | v12) & ~t)) >>> 31)) | 0;
      v4 = (t + w) | 0; v5 = (v5 + m[SIGMA2[o + 4] + 1] + (((t & w) | ((t | w) & ~v4)) >>> 31)) | 0;
      t = v28 ^ v4; v28 = v29 ^ v5; v29 = t;
      t = (v20 + v28) | 0; v21 = (v21 + v29 + (((v20 & v28) | ((v20 | v28) & ~t)) >>> 31)) | 0; v20 = t;
      t = v12 ^ v20; v13 ^= v21; v12 = (t >>> 24) | (v13 << 8); v13 = (v13 >>> 24) | (t << 8);
      w = m[SIGMA2[o + 5]]; t = (v4 + v12) | 0; v5 = (v5 + v13 + (((v4 & v12) | ((v4 | v12) & ~t)) >>> 31)) | 0;
      v4 = (t + w) | 0; v5 = (v5 + m[SIGMA2[o + 5] + 1] + (((t & w) | ((t | w) & ~v4)) >>> 31)) | 0;
      t = v28 ^ v4; v29 ^= v5; v28 = (t >>> 16) | (v29 << 16); v29 = (v29 >>> 16) | (t << 16);
      t = (v20 + v28) | 0; v21 = (v21 + v29 + (((v20 & v28) | ((v20 | v28) & ~t)) >>> 31)) | 0; v20 = t;
      t = v12 ^ v20; v13 ^= v21; v12 = (t << 1) | (v13 >>> 31); v13 = (v13 << 1) | (t >>> 31);
      // G3(v3, v7, v11, v15)
      w = m[SIGMA2[o + 6]]; t = (v6 + v14) | 0; v7 = (v7 + v15 + (((v6 & v14) | ((v6 | v14) & ~t)) >>> 31)) | 0;
      v6 = (t + w) | 0; v7 = (v7 + m[SIGMA2[o + 6] + 1] + (((t & w) | ((t | w) & ~v6)) >>> 31)) | 0;
      t = v30 ^ v6; v30 = v31 ^ v7; v31 = t;
      t = (v22 + v30) | 0; v23 = (v23 + v31 + (((v22 & v30) | ((v22 | v30) & ~t)) >>> 31)) | 0; v22 = t;
      t = v14 ^ v22; v15 ^= v23; v14 = (t >>> 24) | (v15 << 8); v15 = (v15 >>> 24) | (t << 8);
      w = m[SIGMA2[o + 7]]; t = (v6 + v14) | 0; v7 = (v7 + v15 + (((v6 & v14) | ((v6 | v14) & ~t)) >>> 31)) | 0;
      v6 = (t + w) | 0; v7 = (v7 + m[SIGMA2[o + 7] + 1] + (((t & w) | ((t | w) & ~v6)) >>> 31)) | 0;
      t = v30 ^ v6; v31 ^= v7; v30 = (t >>> 16) | (v31 << 16); v31 = (v31 >>> 16) | (t << 16);
      t = (v22 + v30) | 0; v23 = (v23 + v31 + (((v22 & v30) | ((v22 | v30) & ~t)) >>> 31)) | 0; v22 = t;
      t = v14 ^ v22; v15 ^= v23; v14 = (t << 1) | (v15 >>> 31); v15 = (v15 << 1) | (t >>> 31);
      // G4(v0, v5, v10, v15)
      w = m[SIGMA2[o + 8]]; t = (v0 + v10) | 0; v1 = (v1 + v11 + (((v0 & v10) | ((v0 | v10) & ~t)) >>> 31)) | 0;
      v0 = (t + w) | 0; v1 = (v1 + m[SIGMA2[o + 8] + 1] + (((t & w) | ((t | w) & ~v0)) >>> 31)) | 0;
      t = v30 ^ v0; v30 = v31 ^ v1; v31 = t;
      t = (v20 + v30) | 0; v21 = (v21 + v31 + (((v20 & v30) | ((v20 | v30) & ~t)) >>> 31)) | 0; v20 = t;
      t = v10 ^ v20; v11 ^= v21; v10 = (t >>> 24) | (v11 << 8); v11 = (v11 >>> 24) | (t << 8);
      w = m[SIGMA2[o + 9]]; t = (v0 + v10) | 0; v1 = (v1 + v11 + (((v0 & v10) | ((v0 | v10) & ~t)) >>> 31)) | 0;
      v0 = (t + w) | 0; v1 = (v1 + m[SIGMA2[o + 9] + 1] + (((t & w) | ((t | w) & ~v0)) >>> 31)) | 0;
      t = v30 ^ v0; v31 ^= v1; v30 = (t >>> 16) | (v31 << 16); v31 = (v31 >>> 16) | (t << 16);
      t = (v20 + v30) | 0; v21 = (v21 + v31 + (((v20 & v30) | ((v20 | v30) & ~t)) >>> 31)) | 0; v20 = t;
      t = v10 ^ v20; v11 ^= v21; v10 = (t << 1) | (v11 >>> 31); v11 = (v11 << 1) | (t >>> 31);
      // G5(v1, v6, v11, v12)
      w = m[SIGMA2[o + 10]]; t = (v2 + v12) | 0; v3 = (v3 + v13 + (((v2 & v12) | ((v2 | v12) & ~t)) >>> 31)) | 0;
      v2 = (t + w) | 0; v3 = (v3 + m[SIGMA2[o + 10] + 1] + (((t & w) | ((t | w) & ~v2)) >>> 31)) | 0;
      t = v24 ^ v2; v24 = v25 ^ v3; v25 = t;
      t = (v22 + v24) | 0; v23 = (v23 + v25 + (((v22 & v24) | ((v22 | v24) & ~t)) >>> 31)) | 0; v22 = t;
      t = v12 ^ v22; v13 ^= v23; v12 = (t >>> 24) | (v13 << 8); v13 = (v13 >>> 24) | (t << 8);
      w = m[SIGMA2[o + 11]]; t = (v2 + v12) | 0; v3 = (v3 + v13 + (((v2 & v12) | ((v2 | v12) & ~t)) >>> 31)) | 0;
      v2 = (t + w) | 0; v3 = (v3 + m[SIGMA2[o + 11] + 1] + (((t & w) | ((t | w) & ~v2)) >>> 31)) | 0;
      t = v24 ^ v2; v25 ^= v3; v24 = (t >>> 16) | (v25 << 16); v25 = (v25 >>> 16) | (t << 16);
      t = (v22 + v24) | 0; v23 = (v23 + v25 + (((v22 & v24) | ((v22 | v24) & ~t)) >>> 31)) | 0; v22 = t;
      t = v12 ^ v22; v13 ^= v23; v12 = (t << 1) | (v13 >>> 31); v13 = (v13 << 1) | (t >>> 31);
      // G6(v2, v7, v8, v13)
      w = m[SIGMA2[o + 12]]; t = (v4 + v14) | 0; v5 = (v5 + v15 + (((v4 & v14) | ((v4 | v14) & ~t)) >>> 31)) | 0;
      v4 = (t + w) | 0; v5 = (v5 + m[SIGMA2[o + 12] + 1] + (((t & w) | ((t | w) & ~v4)) >>> 31)) | 0;
      t = v26 ^ v4; v26 = v27 ^ v5; v27 = t;
      t = (v16 + v26) | 0; v17 = (v17 + v27 + (((v16 & v26) | ((v16 | v26) & ~t)) >>> 31)) | 0; v16 = t;
      t = v14 ^ v16; v15 ^= v17; v14 = (t >>> 24) | (v15 << 8); v15 = (v15 >>> 24) | (t << 8);
      w = m[SIGMA2[o + 13]]; t = (v4 + v14) | 0; v5 = (v5 + v15 + (((v4 & v14) | ((v4 | v14) & ~t)) >>> 31)) | 0;
      v4 = (t + w) | 0; v5 = (v5 + m[SIGMA2[o + 13] + 1] + (((t & w) | ((t | w) & ~v4)) >>> 31)) | 0;
      t = v26 ^ v4; v27 ^= v5; v26 = (t >>> 16) | (v27 << 16); v27 = (v27 >>> 16) | (t << 16);
      t = (v16 + v26) | 0; v17 = (v17 + v27 + (((v16 & v26) | ((v16 | v26) & ~t)) >>> 31)) | 0; v16 = t;
      t = v14 ^ v16; v15 ^= v17; v14 = (t << 1) | (v15 >>> 31); v15 = (v15 << 1) | (t >>> 31);
      // G7(v3, v4, v9, v14)
      w = m[SIGMA2[o + 14]]; t = (v6 + v8) | 0; v7 = (v7 + v9 + (((v6 & v8) | ((v6 | v8) & ~t)) >>> 31)) | 0;
      v6 = (t + w) | 0; v7 = (v7 + m[SIGMA2[o + 14] + 1] + (((t & w) | ((t | w) & ~v6)) >>> 31)) | 0;
      t = v28 ^ v6; v28 = v29 ^ v7; v29 = t;
      t = (v18 + v28) | 0; v19 = (v19 + v29 + (((v18 & v28) | ((v18 | v28) & ~t)) >>> 31)) | 0; v18 = t;
      t = v8 ^ v18; v9 ^= v19; v8 = (t >>> 24) | (v9 << 8); v9 = (v9 >>> 24) | (t << 8);
      w = m[SIGMA2[o + 15]]; t = (v6 + v8) | 0; v7 = (v7 + v9 + (((v6 & v8) | ((v6 | v8) & ~t)) >>> 31)) | 0;
      v6 = (t + w) | 0; v7 = (v7 + m[SIGMA2[o + 15] + 1] + (((t & w) | ((t | w) & ~v6)) >>> 31)) | 0;
      t = v28 ^ v6; v29 ^= v7; v28 = (t >>> 16) | (v29 << 16); v29 = (v29 >>> 16) | (t << 16);
      t = (v18 + v28) | 0; v19 = (v19 + v29 + (((v18 & v28) | ((v18 | v28) & ~t)) >>> 31)) | 0; v18 = t;
      t = v8 ^ v18; v9 ^= v19; v8 = (t << 1) | (v9 >>> 31); v9 = (v9 << 1) | (t >>> 31);

  }
  h[0] ^= v0 ^ v16;
  h[1] ^= v1 ^ v17;
  h[2] ^= v2 ^ v18;
  h[3] ^= v3 ^ v19;
  h[4] ^= v4 ^ v20;
  h[5] ^= v5 ^ v21;
  h[6] ^= v6 ^ v22;
  h[7] ^= v7 ^ v23;
  h[8] ^= v8 ^ v24;
  h[9] ^= v9 ^ v25;
  h[10] ^= v10 ^ v26;
  h[11] ^= v11 ^ v27;
  h[12] ^= v12 ^ v28;
  h[13] ^= v13 ^ v29;
  h[14] ^= v14 ^ v30;
  h[15] ^= v15 ^ v31;
}

/** Writes BLAKE2b-256(src[off, off + len)) into out[outOff, outOff + 32). */
export function blake2b256(src: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void {
  h.set(IV);
  h[0] ^= 0x01010000 | BLAKE2B_256_LEN; // parameter block: digest length 32, fanout 1, depth 1
  let done = 0;
  // Every full block except the last one is compressed in place.
  while (len - done > 128) {
    compress(src, off + done, done + 128, false);
    done += 128;
  }
  const rest = len - done;
  block.fill(0);
  for (let i = 0; i < rest; i++) block[i] = src[off + done + i];
  compress(block, 0, len, true);
  for (let i = 0; i < BLAKE2B_256_LEN; i++) out[outOff + i] = (h[i >> 2] >>> (8 * (i & 3))) & 0xff;
}
