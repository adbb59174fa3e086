#!/usr/bin/env node
// Generates src/rsync/md4-wasm-binary.ts: MD4 (RFC 1320) and librsync's rollsum as a
// small WebAssembly module. Why WebAssembly: a csync2 run is a short process, and
// V8 runs JavaScript MD4 unoptimized for its first megabytes (a 2 MiB signature:
// ~47 ms cold against ~3 ms once optimized); WebAssembly is compiled before its
// first call. The text below is generated (MD4's 48 steps unrolled), assembled with
// wabt (a devDependency) and stored as base64, so builds need neither.
//
//   node scripts/md4-wasm.mjs           write the file
//   node scripts/md4-wasm.mjs --check   exit 1 when the file is not what this script makes
//
// Memory: bytes 0-15 the MD4 state, 64-191 the padded last chunk(s), from 1024 the
// caller's input (IN_MAX bytes) and after it the output area (OUT_MAX bytes).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const IN = 1024;
const IN_MAX = 1 << 20;
const OUT_MAX = 256 * 1024;
const PAGES = Math.ceil((IN + IN_MAX + OUT_MAX) / 65536);

const S1 = [3, 7, 11, 19], S2 = [3, 5, 9, 13], S3 = [3, 9, 11, 15];
const K2 = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
const K3 = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];

/** The 48 MD4 steps on locals $a $b $c $d and the chunk's words $x0..$x15. */
function md4Steps() {
  const out = [];
  const r = ['a', 'b', 'c', 'd'];
  const g = (n) => `(local.get $${n})`;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 16; i++) {
      const A = r[(16 - i) % 4], B = r[(17 - i) % 4], C = r[(18 - i) % 4], D = r[(19 - i) % 4];
      let f, k, s, constant = null;
      if (round === 0) {
        f = `(i32.or (i32.and ${g(B)} ${g(C)}) (i32.and (i32.xor ${g(B)} (i32.const -1)) ${g(D)}))`;
        k = i; s = S1[i % 4];
      } else if (round === 1) {
        f = `(i32.or (i32.and ${g(B)} (i32.or ${g(C)} ${g(D)})) (i32.and ${g(C)} ${g(D)}))`;
        k = K2[i]; s = S2[i % 4]; constant = '0x5A827999';
      } else {
        f = `(i32.xor ${g(B)} (i32.xor ${g(C)} ${g(D)}))`;
        k = K3[i]; s = S3[i % 4]; constant = '0x6ED9EBA1';
      }
      let sum = `(i32.add (i32.add ${g(A)} ${f}) (local.get $x${k}))`;
      if (constant) sum = `(i32.add ${sum} (i32.const ${constant}))`;
      out.push(`    (local.set $${A} (i32.rotl ${sum} (i32.const ${s})))`);
    }
  }
  return out.join('\n');
}

function wat() {
  const xs = Array.from({ length: 16 }, (_, i) => `(local $x${i} i32)`).join(' ');
  const loads = Array.from({ length: 16 }, (_, i) => `    (local.set $x${i} (i32.load offset=${i * 4} align=1 (local.get $p)))`).join('\n');
  return `(module
  (memory (export "memory") ${PAGES})
  (global (export "input") i32 (i32.const ${IN}))
  (global (export "inputMax") i32 (i32.const ${IN_MAX}))
  (global (export "output") i32 (i32.const ${IN + IN_MAX}))
  (global (export "outputMax") i32 (i32.const ${OUT_MAX}))

  ;; MD4 compression of $n 64-byte chunks at $p into the state at 0.
  (func $compress (param $p i32) (param $n i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local $a0 i32) (local $b0 i32) (local $c0 i32) (local $d0 i32) ${xs}
    (local.set $a (i32.load (i32.const 0))) (local.set $b (i32.load (i32.const 4)))
    (local.set $c (i32.load (i32.const 8))) (local.set $d (i32.load (i32.const 12)))
    (block $done (loop $chunk
      (br_if $done (i32.eqz (local.get $n)))
${loads}
      (local.set $a0 (local.get $a)) (local.set $b0 (local.get $b))
      (local.set $c0 (local.get $c)) (local.set $d0 (local.get $d))
${md4Steps()}
      (local.set $a (i32.add (local.get $a) (local.get $a0))) (local.set $b (i32.add (local.get $b) (local.get $b0)))
      (local.set $c (i32.add (local.get $c) (local.get $c0))) (local.set $d (i32.add (local.get $d) (local.get $d0)))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $chunk)))
    (i32.store (i32.const 0) (local.get $a)) (i32.store (i32.const 4) (local.get $b))
    (i32.store (i32.const 8) (local.get $c)) (i32.store (i32.const 12) (local.get $d)))

  ;; MD4 of $len bytes at $p; the 16-byte digest goes to $out.
  (func $md4 (export "md4") (param $p i32) (param $len i32) (param $out i32)
    (local $tail i32) (local $i i32) (local $padded i32)
    (i32.store (i32.const 0) (i32.const 0x67452301)) (i32.store (i32.const 4) (i32.const 0xefcdab89))
    (i32.store (i32.const 8) (i32.const 0x98badcfe)) (i32.store (i32.const 12) (i32.const 0x10325476))
    (call $compress (local.get $p) (i32.shr_u (local.get $len) (i32.const 6)))
    ;; The last bytes, 0x80, zeros and the length in bits (64-bit little-endian) fill one or two chunks.
    (local.set $tail (i32.and (local.get $len) (i32.const 63)))
    (local.set $p (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -64))))
    (local.set $i (i32.const 0))
    (block $copied (loop $copy
      (br_if $copied (i32.ge_u (local.get $i) (local.get $tail)))
      (i32.store8 offset=64 (local.get $i) (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (i32.store8 offset=64 (local.get $tail) (i32.const 0x80))
    (local.set $padded (select (i32.const 64) (i32.const 128) (i32.lt_u (local.get $tail) (i32.const 56))))
    (local.set $i (i32.add (local.get $tail) (i32.const 1)))
    (block $zeroed (loop $zero
      (br_if $zeroed (i32.ge_u (local.get $i) (i32.sub (local.get $padded) (i32.const 8))))
      (i32.store8 offset=64 (local.get $i) (i32.const 0))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $zero)))
    (i64.store offset=56 (local.get $padded)
      (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 3)))
    (call $compress (i32.const 64) (i32.shr_u (local.get $padded) (i32.const 6)))
    (i64.store (local.get $out) (i64.load (i32.const 0)))
    (i64.store offset=8 (local.get $out) (i64.load (i32.const 8))))

  ;; librsync's rollsum of $len bytes at $p (bytes offset by 31): s2 << 16 | s1, 16 bits each.
  (func $rollsum (export "rollsum") (param $p i32) (param $len i32) (result i32)
    (local $s1 i32) (local $s2 i32) (local $end i32) (local $n i64)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $done (loop $byte
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $s1 (i32.add (local.get $s1) (i32.load8_u (local.get $p))))
      (local.set $s2 (i32.add (local.get $s2) (local.get $s1)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $byte)))
    (local.set $n (i64.extend_i32_u (local.get $len)))
    (local.set $s1 (i32.add (local.get $s1) (i32.mul (local.get $len) (i32.const 31))))
    (local.set $s2 (i32.add (local.get $s2)
      (i32.wrap_i64 (i64.mul (i64.shr_u (i64.mul (local.get $n) (i64.add (local.get $n) (i64.const 1))) (i64.const 1)) (i64.const 31)))))
    (i32.or (i32.shl (local.get $s2) (i32.const 16)) (i32.and (local.get $s1) (i32.const 0xffff))))

  ;; Signature entries of $count consecutive $len-byte blocks at $p: rollsum (big-endian)
  ;; and the 16-byte MD4, 20 bytes each, written from $out on.
  (func (export "entries") (param $p i32) (param $count i32) (param $len i32) (param $out i32)
    (local $w i32)
    (block $done (loop $block
      (br_if $done (i32.eqz (local.get $count)))
      (local.set $w (call $rollsum (local.get $p) (local.get $len)))
      (i32.store (local.get $out) (i32.or
        (i32.or (i32.shr_u (local.get $w) (i32.const 24)) (i32.and (i32.shr_u (local.get $w) (i32.const 8)) (i32.const 0xff00)))
        (i32.or (i32.and (i32.shl (local.get $w) (i32.const 8)) (i32.const 0xff0000)) (i32.shl (local.get $w) (i32.const 24)))))
      (call $md4 (local.get $p) (local.get $len) (i32.add (local.get $out) (i32.const 4)))
      (local.set $p (i32.add (local.get $p) (local.get $len)))
      (local.set $out (i32.add (local.get $out) (i32.const 20)))
      (local.set $count (i32.sub (local.get $count) (i32.const 1)))
      (br $block))))
)
`;
}

async function binaryBase64() {
  const wabt = await (await import('wabt')).default();
  const mod = wabt.parseWat('md4.wat', wat());
  try {
    return Buffer.from(mod.toBinary({}).buffer).toString('base64');
  } finally {
    mod.destroy();
  }
}

const target = fileURLToPath(new URL('../src/rsync/md4-wasm-binary.ts', import.meta.url));
const b64 = await binaryBase64();
const lines = b64.match(/.{1,100}/g).map((l) => `  '${l}'`).join(' +\n');
const text = `// Generated by scripts/md4-wasm.mjs (MD4 and rollsum as WebAssembly); do not edit.\n`
  + `export const MD4_WASM_BASE64 =\n${lines};\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try { current = readFileSync(target, 'utf8'); } catch { /* missing */ }
  if (current !== text) {
    process.stderr.write(`${target} is not what scripts/md4-wasm.mjs makes; run it\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
}
