/**
 * literalOnlyContent(): the content of a delta of LITERALs only, as rdiff and our encoder make
 * it against the empty signature, with each length width; null for anything else (the caller
 * then applies it the ordinary way).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MISSING_FILE_SIGNATURE, deltaStream, parseSignature } from '../../src/rsync/index.js';
import { literalOnlyContent } from '../../src/rsync/literal.js';
import { Rng, rdiffBatch, tempDir } from './fixtures.js';

const MAGIC = Buffer.from([0x72, 0x73, 0x02, 0x36]);

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

test('the content of rdiff\'s and our deltas against the empty signature, sizes 0 to 200 KiB', async () => {
  const { dir, cleanup } = tempDir('literal');
  try {
    writeFileSync(join(dir, 'empty.sig'), MISSING_FILE_SIGNATURE);
    const rng = new Rng(7);
    const sizes = [0, 1, 64, 65, 255, 256, 65535, 65536, 200 * 1024];
    const commands: string[][] = [];
    sizes.forEach((n, i) => {
      writeFileSync(join(dir, `f${i}`), rng.bytes(n));
      commands.push(['delta', join(dir, 'empty.sig'), join(dir, `f${i}`), join(dir, `d${i}`)]);
    });
    const failed = await rdiffBatch(dir, commands);
    for (let i = 0; i < sizes.length; i++) {
      assert.ok(!failed.has(i), `rdiff delta f${i} failed (${failed.get(i)})`);
      const data = readFileSync(join(dir, `f${i}`));
      const fromRdiff = literalOnlyContent(readFileSync(join(dir, `d${i}`)));
      assert.ok(fromRdiff !== null && fromRdiff.equals(data), `rdiff's delta of ${sizes[i]} bytes`);
      const ours = await collect(deltaStream(parseSignature(MISSING_FILE_SIGNATURE), [data]));
      const fromOurs = literalOnlyContent(ours);
      assert.ok(fromOurs !== null && fromOurs.equals(data), `our delta of ${sizes[i]} bytes`);
    }
  } finally {
    cleanup();
  }
});

test('each LITERAL length width (1, 2, 4, 8 bytes), one after another', () => {
  const body = Buffer.from('abcdefgh');
  const delta = Buffer.concat([
    MAGIC,
    Buffer.from([0x03]), body.subarray(0, 3), // LITERAL_3
    Buffer.from([0x41, 2]), body.subarray(3, 5),
    Buffer.from([0x42, 0, 1]), body.subarray(5, 6),
    Buffer.from([0x43, 0, 0, 0, 1]), body.subarray(6, 7),
    Buffer.from([0x44, 0, 0, 0, 0, 0, 0, 0, 1]), body.subarray(7, 8),
    Buffer.from([0x00]),
  ]);
  assert.deepEqual(literalOnlyContent(delta), body);
});

test('one LITERAL (our client XPATCH of a new file) is read in place; several are joined into a buffer of their own', () => {
  const body = Buffer.from('new file content');
  const one = Buffer.concat([MAGIC, Buffer.from([0x44, 0, 0, 0, 0, 0, 0, 0, body.length]), body, Buffer.from([0x00])]);
  const got = literalOnlyContent(one)!;
  assert.deepEqual(got, body);
  assert.equal(got.buffer, one.buffer, 'a view into the delta');
  assert.equal(got.byteOffset, one.byteOffset + 4 + 9);
  const two = Buffer.concat([MAGIC, Buffer.from([0x03]), body.subarray(0, 3), Buffer.from([body.length - 3]), body.subarray(3), Buffer.from([0x00])]);
  const joined = literalOnlyContent(two)!;
  assert.deepEqual(joined, body);
  assert.notEqual(joined.buffer, two.buffer);
});

test('anything but literals answers null: a COPY, a wrong magic, no END, bytes after END, a cut length, a huge 8-byte length', () => {
  const ok = Buffer.concat([MAGIC, Buffer.from([0x02]), Buffer.from('hi'), Buffer.from([0x00])]);
  assert.deepEqual(literalOnlyContent(ok), Buffer.from('hi'));
  const copy = Buffer.concat([MAGIC, Buffer.from([0x45, 0, 4]), Buffer.from([0x00])]);
  const cases: [string, Buffer][] = [
    ['COPY', copy],
    ['wrong magic', Buffer.concat([Buffer.from([0x72, 0x73, 0x01, 0x36]), ok.subarray(4)])],
    ['no END', ok.subarray(0, ok.length - 1)],
    ['bytes after END', Buffer.concat([ok, Buffer.from('x')])],
    ['cut literal', ok.subarray(0, 6)],
    ['cut length field', Buffer.concat([MAGIC, Buffer.from([0x43, 0, 0])])],
    ['8-byte length beyond 4 GiB', Buffer.concat([MAGIC, Buffer.from([0x44, 0, 0, 0, 1, 0, 0, 0, 0]), Buffer.from([0x00])])],
    ['too short', MAGIC],
  ];
  for (const [what, d] of cases) assert.equal(literalOnlyContent(d), null, what);
});
