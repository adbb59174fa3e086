import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { md4Pair } from '../../src/rsync/md4.js';
import {
  MISSING_FILE_SIGNATURE, RsyncError, blake2b256, md4, minStrongLen, parseSignature, rabinkarpBlock,
  recommendedBlockLen, rollsumBlock, SignatureLoader, signatureOfFile, signatureStream,
} from '../../src/rsync/index.js';
import { RsyncStreamError } from '../../src/rsync/errors.js';
import { Rng, ourDelta, rdiffBatch, tempDir } from './fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('weak and strong sums match the spec test vectors for "hello world\\n"', () => {
  const data = Buffer.from('hello world\n');
  assert.equal(rollsumBlock(data, 0, data.length), 0x27d805da);
  assert.equal(rabinkarpBlock(data, 0, data.length), 0x38aec4d7);
  const out = new Uint8Array(32);
  md4(data, 0, data.length, out, 0);
  assert.equal(hex(out.subarray(0, 16)), '97668ab2f29d0115bd0d1161b9bec520');
  blake2b256(data, 0, data.length, out, 0);
  assert.equal(hex(out), 'c71b05fd1d1c7bf7e928ff18e58db5193e9316416cc26ba9cc9094da80d7011e');
});

test('MD4 matches RFC 1320 and the two-block path matches the one-block path at every alignment', () => {
  const vectors: Array<[string, string]> = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ];
  const out = new Uint8Array(16);
  for (const [text, want] of vectors) {
    const data = Buffer.from(text);
    md4(data, 0, data.length, out, 0);
    assert.equal(hex(out), want, `MD4("${text}")`);
  }
  const data = new Rng(5).bytes(20000);
  const pair = new Uint8Array(32), single = new Uint8Array(32);
  for (const len of [0, 1, 55, 56, 63, 64, 65, 119, 120, 2048, 2049, 4000]) {
    for (const [a, b] of [[0, 8192], [4, 12], [1, 4], [3, 7], [8, 8]]) {
      md4Pair(data, a, b, len, pair, 0, 16);
      md4(data, a, len, single, 0);
      md4(data, b, len, single, 16);
      assert.equal(hex(pair), hex(single), `md4Pair len ${len} at ${a}/${b}`);
    }
  }
});

test('BLAKE2b-256 matches known digests', () => {
  const out = new Uint8Array(32);
  blake2b256(Buffer.alloc(0), 0, 0, out, 0);
  assert.equal(hex(out), '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8');
  blake2b256(Buffer.from('abc'), 0, 3, out, 0);
  assert.equal(hex(out), 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
});

test('csync2-style signatures: spec vectors, empty file, and the missing-file constant', async () => {
  const { dir, cleanup } = tempDir('sigvec');
  try {
    writeFileSync(join(dir, 'hw'), 'hello world\n');
    writeFileSync(join(dir, 'hello'), 'hello\n');
    writeFileSync(join(dir, 'empty'), '');
    assert.equal(hex(await signatureOfFile(join(dir, 'hw'))),
      '727301360000080000000010' + '27d805da97668ab2f29d0115bd0d1161b9bec520');
    assert.equal(hex(await signatureOfFile(join(dir, 'hello'))),
      '727301360000080000000010' + '0ad002d863481c78ae04c201fa01ea9d2b1db56d');
    assert.equal(hex(await signatureOfFile(join(dir, 'empty'))), '727301360000080000000010');
    assert.equal(hex(MISSING_FILE_SIGNATURE), '727301360000080000000008');
    const missing = parseSignature(MISSING_FILE_SIGNATURE);
    assert.deepEqual([missing.count, missing.blockLen, missing.strongLen, missing.hash, missing.weak],
      [0, 2048, 8, 'md4', 'rollsum']);
  } finally {
    cleanup();
  }
});

test('librsync parameter rules: recommended block length and minimum strong length', () => {
  assert.equal(recommendedBlockLen(200 * 1024 * 1024), 14464);
  assert.equal(recommendedBlockLen(65536), 256);
  assert.equal(recommendedBlockLen(0), 256);
  assert.equal(recommendedBlockLen(-1), 2048);
  assert.equal(minStrongLen(5000, 2048), 6);
  assert.equal(minStrongLen(-1, 2048), 12);
});

test('every signature kind, strong length and block size is byte-identical to rdiff\'s, and so are deltas from them', async () => {
  const { dir, cleanup } = tempDir('sigkinds');
  try {
    const rng = new Rng(11);
    const files = { small: rng.bytes(5000), odd: rng.bytes(70001), empty: Buffer.alloc(0) };
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    const edited = Buffer.concat([files.odd.subarray(0, 30000), rng.bytes(100), files.odd.subarray(30000)]);
    writeFileSync(join(dir, 'edited'), edited);
    const variants: Array<{ hash: 'md4' | 'blake2'; weak: 'rollsum' | 'rabinkarp'; blockLen: number; strongLen: number }> = [];
    for (const hash of ['md4', 'blake2'] as const) {
      for (const weak of ['rollsum', 'rabinkarp'] as const) {
        for (const blockLen of [0, 1, 7, 100, 2048]) {
          for (const strongLen of [0, -1, 8]) variants.push({ hash, weak, blockLen, strongLen });
        }
      }
    }
    const commands: string[][] = [];
    const jobs: Array<{ file: string; v: typeof variants[number]; sig: string; delta: string }> = [];
    for (const file of Object.keys(files)) {
      variants.forEach((v, i) => {
        const sig = join(dir, `${file}.${i}.sig`), delta = join(dir, `${file}.${i}.delta`);
        commands.push(['-H', v.hash, '-R', v.weak, '-b', String(v.blockLen), '-S', String(v.strongLen), 'signature', join(dir, file), sig]);
        if (file === 'odd') commands.push(['delta', sig, join(dir, 'edited'), delta]);
        jobs.push({ file, v, sig, delta });
      });
    }
    const failed = await rdiffBatch(dir, commands);
    assert.equal(failed.size, 0, 'rdiff failed');
    for (const job of jobs) {
      const ours = await signatureOfFile(join(dir, job.file), job.v);
      const theirs = readFileSync(job.sig);
      assert.equal(hex(ours), hex(theirs), `${job.file} ${JSON.stringify(job.v)}`);
      if (job.file === 'odd') {
        await ourDelta(theirs, join(dir, 'edited'), `${job.delta}.ts`);
        assert.ok(readFileSync(`${job.delta}.ts`).equals(readFileSync(job.delta)), `delta from ${JSON.stringify(job.v)}`);
      }
    }
  } finally {
    cleanup();
  }
});

test('signatureStream gives the same bytes however the input is chunked', async () => {
  const data = new Rng(3).bytes(50_000);
  const whole: Buffer[] = [];
  for await (const part of signatureStream([data])) whole.push(part);
  const expected = Buffer.concat(whole);
  for (const sizes of [[1], [7], [2047], [2048], [2049], [4096], [13, 5000, 1]]) {
    const chunks: Uint8Array[] = [];
    for (let off = 0, k = 0; off < data.length; k++) {
      const n = sizes[k % sizes.length];
      // Each chunk in its own odd-offset buffer: exercises the unaligned hashing paths.
      const holder = new Uint8Array(n + 1);
      holder.set(data.subarray(off, off + n), 1);
      chunks.push(holder.subarray(1, 1 + Math.min(n, data.length - off)));
      off += n;
    }
    const parts: Buffer[] = [];
    for await (const part of signatureStream(chunks)) parts.push(part);
    assert.ok(Buffer.concat(parts).equals(expected), `chunks of ${sizes.join(',')}`);
  }
});

/** A signature header (+ body) from its fields. */
function sigBytes(magic: number, blockLen: number, strongLen: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(magic >>> 0, 0);
  head.writeInt32BE(blockLen, 4);
  head.writeInt32BE(strongLen, 8);
  return Buffer.concat([head, body]);
}

test('malformed signatures fail like librsync\'s loader (same verdict as rdiff, offset named)', async () => {
  const { dir, cleanup } = tempDir('sigbad');
  try {
    const entry = Buffer.alloc(20, 1);
    const cases: Array<{ name: string; sig: Buffer; kind: string | null; offset?: number }> = [
      { name: 'empty', sig: Buffer.alloc(0), kind: 'input-ended', offset: 0 },
      { name: 'header cut', sig: sigBytes(0x72730136, 2048, 16).subarray(0, 8), kind: 'input-ended', offset: 8 },
      { name: 'bad magic', sig: sigBytes(0x72730236, 2048, 16), kind: 'bad-magic', offset: 0 },
      { name: 'block 0', sig: sigBytes(0x72730136, 0, 16), kind: 'corrupt', offset: 4 },
      { name: 'block negative', sig: sigBytes(0x72730136, -5, 16), kind: 'corrupt', offset: 4 },
      { name: 'strong 33', sig: sigBytes(0x72730136, 2048, 33), kind: 'corrupt', offset: 8 },
      { name: 'strong negative', sig: sigBytes(0x72730147, 2048, -1), kind: 'corrupt', offset: 8 },
      { name: 'md4 strong 17', sig: sigBytes(0x72730136, 2048, 17), kind: 'param', offset: 8 },
      { name: 'bad magic, block 0', sig: sigBytes(0x12345678, 0, 16), kind: 'corrupt', offset: 4 },
      { name: 'strong 0 = full', sig: sigBytes(0x72730136, 2048, 0, entry), kind: null },
      { name: 'three stray bytes', sig: sigBytes(0x72730136, 2048, 16, Buffer.concat([entry, Buffer.alloc(3)])), kind: null },
      { name: 'weak without strong', sig: sigBytes(0x72730136, 2048, 16, Buffer.concat([entry, Buffer.alloc(4)])), kind: 'input-ended' },
      { name: 'strong cut', sig: sigBytes(0x72730136, 2048, 16, entry.subarray(0, 13)), kind: 'input-ended' },
      { name: 'blake2 strong 32', sig: sigBytes(0x72730137, 64, 32, Buffer.alloc(36, 2)), kind: null },
    ];
    writeFileSync(join(dir, 'new'), new Rng(1).bytes(3000));
    const commands = cases.map((c, i) => {
      writeFileSync(join(dir, `${i}.sig`), c.sig);
      return ['delta', join(dir, `${i}.sig`), join(dir, 'new'), join(dir, `${i}.delta`)];
    });
    const failed = await rdiffBatch(dir, commands);
    cases.forEach((c, i) => {
      const rdiffCode = failed.get(i) ?? 0;
      let ours: unknown = null;
      try {
        parseSignature(c.sig);
      } catch (err) {
        ours = err;
      }
      if (c.kind === null) {
        assert.equal(ours, null, `${c.name}: we reject it`);
        assert.equal(rdiffCode, 0, `${c.name}: rdiff rejects it`);
        return;
      }
      assert.ok(ours instanceof RsyncError, `${c.name}: not an RsyncError: ${String(ours)}`);
      assert.ok(ours instanceof RsyncStreamError);
      assert.equal(ours.kind, c.kind, c.name);
      if (c.offset !== undefined) assert.equal(ours.offset, c.offset, `${c.name}: offset`);
      const codes: Record<string, number> = { 'input-ended': 103, 'bad-magic': 104, corrupt: 106, param: 108 };
      assert.equal(rdiffCode, codes[c.kind], `${c.name}: rdiff's exit code`);
    });
  } finally {
    cleanup();
  }
});

test('SignatureLoader assembles a signature from pieces and rejects a bad header early', () => {
  const data = new Rng(9).bytes(9000);
  const sig = Buffer.concat([sigBytes(0x72730136, 2048, 16), data.subarray(0, 5 * 20)]);
  const loader = new SignatureLoader();
  for (let off = 0; off < sig.length; off += 7) loader.push(sig.subarray(off, off + 7));
  const loaded = loader.end();
  const parsed = parseSignature(sig);
  assert.equal(loaded.count, 5);
  assert.deepEqual(loaded, parsed);
  const bad = new SignatureLoader();
  const header = sigBytes(0x11111111, 2048, 16);
  bad.push(header.subarray(0, 6));
  assert.throws(() => bad.push(header.subarray(6)), (err: unknown) => err instanceof RsyncError && err.offset === 0);
});
