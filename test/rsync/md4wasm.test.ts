import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { md4, md4RollsumPair, pairWeak } from '../../src/rsync/md4.js';
import { md4Fast, md4RollsumPairFast, pairWeakFast, signatureEntriesFast } from '../../src/rsync/md4wasm.js';
import { rollsumBlock } from '../../src/rsync/weaksum.js';
import { Rng } from './fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const repo = fileURLToPath(new URL('../../..', import.meta.url));

test('WebAssembly MD4 matches RFC 1320 and the JavaScript MD4 at every length and alignment', () => {
  const out = new Uint8Array(16);
  for (const [text, want] of [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ] as const) {
    md4Fast(Buffer.from(text), 0, text.length, out, 0);
    assert.equal(hex(out), want, `MD4("${text}")`);
  }
  const data = new Rng(11).bytes(300_000);
  const js = new Uint8Array(16);
  for (let len = 0; len <= 2100; len++) {
    const off = len % 13;
    md4(data, off, len, js, 0);
    md4Fast(data, off, len, out, 0);
    assert.equal(hex(out), hex(js), `length ${len} at ${off}`);
  }
  md4(data, 1, 299_000, js, 0);
  md4Fast(data, 1, 299_000, out, 0);
  assert.equal(hex(out), hex(js), 'a long input');
});

test('WebAssembly pairs and signature entries match the JavaScript rollsum and MD4', () => {
  const data = new Rng(12).bytes(1_300_000);
  const a = new Uint8Array(32), b = new Uint8Array(32);
  for (const len of [1, 63, 64, 65, 700, 2048, 4096]) {
    md4RollsumPair(data, 3, 3 + len, len, a, 0, 16);
    md4RollsumPairFast(data, 3, 3 + len, len, b, 0, 16);
    assert.equal(hex(b), hex(a), `pair digests, length ${len}`);
    assert.deepEqual([...pairWeakFast], [...pairWeak], `pair rollsums, length ${len}`);
  }
  // More blocks than one call's input area holds: the entries come in several calls.
  const count = 600, len = 2048;
  const entries = Buffer.alloc(count * 20);
  signatureEntriesFast(data, 5, count, len, entries, 0);
  const digest = new Uint8Array(16);
  for (let i = 0; i < count; i++) {
    const at = 5 + i * len;
    assert.equal(entries.readUInt32BE(i * 20), rollsumBlock(data, at, len), `rollsum of block ${i}`);
    md4(data, at, len, digest, 0);
    assert.equal(hex(entries.subarray(i * 20 + 4, i * 20 + 20)), hex(digest), `MD4 of block ${i}`);
  }
});

test('the committed WebAssembly module is what scripts/md4-wasm.mjs makes', () => {
  // Throws (exit 1, with the reason on stderr) when the generated file differs.
  execFileSync(process.execPath, ['scripts/md4-wasm.mjs', '--check'], { cwd: repo, stdio: 'pipe' });
});
