import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import {
  DeltaEncoder, MISSING_FILE_SIGNATURE, deltaFile, deltaStream, parseSignature, signatureOfFile,
} from '../../src/rsync/index.js';
import { Rng, rdiffBatch, tempDir } from './fixtures.js';

async function collect(parts: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const p of parts) out.push(Buffer.from(p));
  return Buffer.concat(out);
}

test('csync2\'s missing-file signature gives rdiff\'s slack delta (one literal per 2048 bytes)', async () => {
  const { dir, cleanup } = tempDir('slack');
  try {
    const data = new Rng(8).bytes(5000);
    writeFileSync(join(dir, 'new'), data);
    writeFileSync(join(dir, 'missing.sig'), MISSING_FILE_SIGNATURE);
    const failed = await rdiffBatch(dir, [['delta', join(dir, 'missing.sig'), join(dir, 'new'), join(dir, 'rd.delta')]]);
    assert.equal(failed.size, 0);
    const ours = await collect(deltaStream(parseSignature(MISSING_FILE_SIGNATURE), [data]));
    assert.equal(ours.toString('hex'), readFileSync(join(dir, 'rd.delta')).toString('hex'));
    assert.deepEqual([...ours.subarray(4, 7)], [0x42, 0x08, 0x00], 'LITERAL_N2 2048 first');
  } finally {
    cleanup();
  }
});

test('an empty new file gives the delta magic and END only', async () => {
  const sig = parseSignature(Buffer.from('7273013600000800000000101234567800112233445566778899aabbccddeeff', 'hex'));
  assert.equal((await collect(deltaStream(sig, []))).toString('hex'), '7273023600');
});

test('the delta is the same however the new file is chunked, for both weak sums', async () => {
  const { dir, cleanup } = tempDir('chunks');
  try {
    const rng = new Rng(21);
    const basis = rng.bytes(300_000);
    // Matches at odd offsets, a long unmatched run (> 32 KiB literals), a short tail block.
    const next = Buffer.concat([basis.subarray(1000, 90_000), rng.bytes(70_000), basis.subarray(5, 200_001),
      rng.bytes(3), basis.subarray(299_000)]);
    writeFileSync(join(dir, 'basis'), basis);
    for (const weak of ['rollsum', 'rabinkarp'] as const) {
      const sig = parseSignature(await signatureOfFile(join(dir, 'basis'), { blockLen: 1000, weak, hash: 'md4' }));
      const whole = await collect(deltaStream(sig, [next]));
      for (const sizes of [[1], [999], [1000], [1001], [40_000], [7, 65_536, 3]]) {
        if (sizes[0] === 1 && weak === 'rabinkarp') continue; // one pass byte by byte is enough
        const encoder = new DeltaEncoder(sig);
        const parts: Buffer[] = [];
        for (let off = 0, k = 0; off < next.length; k++) {
          const n = sizes[k % sizes.length];
          parts.push(...encoder.write(next.subarray(off, off + n)));
          off += n;
        }
        parts.push(...encoder.end());
        assert.ok(Buffer.concat(parts).equals(whole), `${weak}, chunks of ${sizes.join(',')}`);
      }
    }
  } finally {
    cleanup();
  }
});

test('deltaFile writes the same bytes to an fd and to a stream', async () => {
  const { dir, cleanup } = tempDir('sinks');
  try {
    const rng = new Rng(5);
    const basis = rng.bytes(100_000);
    writeFileSync(join(dir, 'basis'), basis);
    writeFileSync(join(dir, 'new'), Buffer.concat([rng.bytes(10), basis.subarray(0, 60_000), rng.bytes(50_000)]));
    const sig = parseSignature(await signatureOfFile(join(dir, 'basis')));
    const fd = openSync(join(dir, 'fd.delta'), 'w');
    await deltaFile(sig, join(dir, 'new'), fd);
    closeSync(fd);
    const stream = new PassThrough({ highWaterMark: 1024 });
    const collected = collect(stream);
    await deltaFile(sig, join(dir, 'new'), stream);
    stream.end();
    assert.ok((await collected).equals(readFileSync(join(dir, 'fd.delta'))));
    assert.ok(readFileSync(join(dir, 'fd.delta')).length > 50_000);
  } finally {
    cleanup();
  }
});

test('weak sums whose keys nozero() merges find each other\'s blocks, like librsync\'s hash table', async () => {
  const { MatchTable, MIX32_OF_MINUS_ONE, entryKey } = await import('../../src/rsync/matchtable.js');
  const { mix32 } = await import('../../src/rsync/weaksum.js');
  assert.equal(mix32(MIX32_OF_MINUS_ONE), -1);
  const strong = Buffer.alloc(16, 0xab);
  for (const [weak, stored, other] of [['rollsum', 0, MIX32_OF_MINUS_ONE], ['rollsum', MIX32_OF_MINUS_ONE, 0], ['rabinkarp', -1, 0]] as const) {
    const sig = {
      magic: 0, hash: 'md4' as const, weak, blockLen: 2048, strongLen: 16, count: 2,
      weakSums: new Int32Array([12345, stored]), strongSums: Buffer.concat([Buffer.alloc(16), strong]), strongStride: 16,
    };
    const table = new MatchTable(sig);
    assert.ok(table.mayContain(other), `${weak}: the merged raw sum passes the filter`);
    assert.equal(table.findStrong(entryKey(other, weak === 'rollsum'), strong, 0), 1);
    assert.equal(table.findStrong(entryKey(other, weak === 'rollsum'), Buffer.alloc(16, 1), 0), -1);
  }
});
