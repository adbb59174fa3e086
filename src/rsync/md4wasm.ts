/**
 * MD4 and rollsum through the WebAssembly module of scripts/md4-wasm.mjs: the same
 * digests as md4.ts and weaksum.ts, at full speed from the first call (V8 runs the
 * JavaScript versions unoptimized for the first megabytes of a short-lived process).
 * The module is compiled on first use (~1 ms); data is copied into its memory.
 */
import { MD4_WASM_BASE64 } from './md4-wasm-binary.js';

// The part of the WebAssembly API used here (this project's lib settings do not declare it).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: object;
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
  }
  interface Global {
    readonly value: unknown;
  }
}

interface Md4Exports {
  memory: WebAssembly.Memory;
  input: WebAssembly.Global;
  inputMax: WebAssembly.Global;
  output: WebAssembly.Global;
  outputMax: WebAssembly.Global;
  md4(p: number, len: number, out: number): void;
  rollsum(p: number, len: number): number;
  entries(p: number, count: number, len: number, out: number): void;
}

/** Bytes per signature entry with a full MD4: 4 (rollsum) + 16. */
const ENTRY = 20;

let mod: Md4Exports | null = null;
let heap: Uint8Array;
let IN = 0, IN_MAX = 0, OUT = 0, OUT_MAX = 0;

function load(): Md4Exports {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(MD4_WASM_BASE64, 'base64')), {});
  const e = instance.exports as unknown as Md4Exports;
  heap = new Uint8Array(e.memory.buffer);
  IN = e.input.value as number;
  IN_MAX = e.inputMax.value as number;
  OUT = e.output.value as number;
  OUT_MAX = e.outputMax.value as number;
  mod = e;
  return e;
}

/** Largest input md4Fast() takes (callers use md4.ts beyond it). */
export const MD4_FAST_MAX = 1 << 20;

/** MD4(src[off, off + len)) into out[outOff, outOff + 16); len <= MD4_FAST_MAX. */
export function md4Fast(src: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void {
  const m = mod ?? load();
  heap.set(src.subarray(off, off + len), IN);
  m.md4(IN, len, OUT);
  for (let i = 0; i < 16; i++) out[outOff + i] = heap[OUT + i]!;
}

/** The rollsum digests of the two blocks of the last md4RollsumPairFast call. */
export const pairWeakFast = new Uint32Array(2);

/** md4.ts md4RollsumPair: MD4 and rollsum of src[offA..] and src[offB..], len bytes each (len <= MD4_FAST_MAX / 2). */
export function md4RollsumPairFast(src: Uint8Array, offA: number, offB: number, len: number,
  out: Uint8Array, outA: number, outB: number): void {
  const m = mod ?? load();
  heap.set(src.subarray(offA, offA + len), IN);
  heap.set(src.subarray(offB, offB + len), IN + len);
  pairWeakFast[0] = m.rollsum(IN, len);
  pairWeakFast[1] = m.rollsum(IN + len, len);
  m.md4(IN, len, OUT);
  m.md4(IN + len, len, OUT + 16);
  for (let i = 0; i < 16; i++) {
    out[outA + i] = heap[OUT + i]!;
    out[outB + i] = heap[OUT + 16 + i]!;
  }
}

/**
 * Signature entries (rollsum big-endian, full 16-byte MD4) of `count` consecutive
 * `len`-byte blocks at src[off..], written to out from outOff on.
 */
export function signatureEntriesFast(src: Uint8Array, off: number, count: number, len: number,
  out: Uint8Array, outOff: number): void {
  const m = mod ?? load();
  if (len > IN_MAX) throw new RangeError(`block of ${len} bytes is too long for md4wasm`);
  // As many blocks per call as the input and output areas hold.
  const step = Math.max(1, Math.min(Math.floor(IN_MAX / len), Math.floor(OUT_MAX / ENTRY)));
  for (let done = 0; done < count;) {
    const n = Math.min(step, count - done);
    const from = off + done * len;
    heap.set(src.subarray(from, from + n * len), IN);
    m.entries(IN, n, len, OUT);
    out.set(heap.subarray(OUT, OUT + n * ENTRY), outOff + done * ENTRY);
    done += n;
  }
}
