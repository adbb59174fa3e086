/**
 * Fuzzing: thousands of mutated and truncated deltas and signatures must give a
 * clean RsyncError or a correct result: never another exception, a hang, or a
 * byte written anywhere but the output fd. A sample of each is also run
 * through rdiff, which must reach the same verdict (and the same bytes).
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DeltaEncoder, Patcher, RsyncError, parseSignature, signatureOfFile } from '../../src/rsync/index.js';
import { BasisFile } from '../../src/rsync/patch.js';
import { Rng, rdiffBatch, tempDir } from './fixtures.js';

const INTERESTING = [0x00, 0x01, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x50, 0x51, 0x54, 0x55, 0x7f, 0x80, 0xff];

/** A damaged copy of `data`: flipped bytes, truncation, insertion, deletion or duplication. */
function mutate(data: Buffer, rng: Rng): Buffer {
  const out = Buffer.from(data);
  switch (rng.below(7)) {
    case 0: { // a few random bytes
      for (let n = 1 + rng.below(4); n > 0 && out.length > 0; n--) out[rng.below(out.length)] = rng.next() & 0xff;
      return out;
    }
    case 1: { // bytes that are opcode or sign boundaries
      if (out.length > 0) out[rng.below(out.length)] = INTERESTING[rng.below(INTERESTING.length)];
      return out;
    }
    case 2: return out.subarray(0, rng.below(out.length + 1)); // truncated
    case 3: { // inserted garbage
      const at = rng.below(out.length + 1);
      return Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.below(12)), out.subarray(at)]);
    }
    case 4: { // a range deleted
      const at = rng.below(out.length + 1);
      return Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + rng.below(30)))]);
    }
    case 5: { // a range duplicated
      const at = rng.below(out.length + 1), len = rng.below(40);
      return Buffer.concat([out.subarray(0, at + len), out.subarray(at, at + len), out.subarray(at + len)]);
    }
    default: { // a bit flipped in the first 16 bytes (magic and header fields)
      if (out.length > 0) out[rng.below(Math.min(16, out.length))] ^= 1 << rng.below(8);
      return out;
    }
  }
}

/** Runs our patcher over a delta held in memory; returns the output, or the RsyncError. */
async function ourPatch(basis: BasisFile, delta: Buffer, outPath: string, rng: Rng): Promise<Buffer | RsyncError> {
  const fd = openSync(outPath, 'w');
  try {
    const patcher = new Patcher(basis, fd);
    for (let off = 0; off < delta.length;) {
      const n = 1 + rng.below(200);
      await patcher.write(delta.subarray(off, off + n));
      off += n;
    }
    await patcher.end();
  } catch (err) {
    if (err instanceof RsyncError) return err;
    throw err;
  } finally {
    closeSync(fd);
  }
  return readFileSync(outPath);
}

test('mutated deltas patch to a clean error or the same bytes rdiff produces', async () => {
  const { dir, cleanup } = tempDir('fuzzdelta');
  try {
    const rng = new Rng(1234);
    const basisData = rng.bytes(20_000);
    writeFileSync(join(dir, 'basis'), basisData);
    // Seed deltas: real ones (literals and merged/unmerged COPYs) made by rdiff.
    const newData = Buffer.concat([basisData.subarray(3000, 9000), rng.bytes(300), basisData.subarray(0, 2500),
      rng.bytes(70), basisData.subarray(15_000), basisData.subarray(100, 2148)]);
    writeFileSync(join(dir, 'new'), newData);
    const seedCmds = [
      ['-H', 'md4', '-R', 'rollsum', '-b', '2048', 'signature', join(dir, 'basis'), join(dir, 'a.sig')],
      ['delta', join(dir, 'a.sig'), join(dir, 'new'), join(dir, 'a.delta')],
      ['-b', '64', 'signature', join(dir, 'basis'), join(dir, 'b.sig')],
      ['delta', join(dir, 'b.sig'), join(dir, 'new'), join(dir, 'b.delta')],
    ];
    assert.equal((await rdiffBatch(dir, seedCmds)).size, 0);
    const seeds = [readFileSync(join(dir, 'a.delta')), readFileSync(join(dir, 'b.delta'))];

    const basis = new BasisFile(join(dir, 'basis'));
    const TOTAL = 3000, ORACLE = 400;
    let errors = 0;
    const oracle: Array<{ i: number; ours: Buffer | RsyncError }> = [];
    try {
      for (let i = 0; i < TOTAL; i++) {
        let delta = mutate(seeds[i % seeds.length], rng);
        if (rng.below(4) === 0) delta = mutate(delta, rng);
        const started = Date.now();
        const ours = await ourPatch(basis, delta, join(dir, 'out.tmp'), rng);
        assert.ok(Date.now() - started < 5000, `delta ${i} took too long`);
        if (ours instanceof RsyncError) errors++;
        if (i < ORACLE) {
          writeFileSync(join(dir, `m${i}.delta`), delta);
          oracle.push({ i, ours });
        }
      }
    } finally {
      basis.close();
    }
    assert.ok(errors > TOTAL / 4 && errors < TOTAL, `${errors} of ${TOTAL} mutated deltas failed`);
    const failed = await rdiffBatch(dir, oracle.map(({ i }) => ['patch', join(dir, 'basis'), join(dir, `m${i}.delta`), join(dir, `m${i}.rd`)]));
    for (const { i, ours } of oracle) {
      const rdiffFailed = failed.has(i);
      assert.equal(ours instanceof RsyncError, rdiffFailed,
        `delta ${i}: ours ${ours instanceof RsyncError ? ours.message : 'ok'}, rdiff exit ${failed.get(i) ?? 0}`);
      if (!rdiffFailed) assert.ok((ours as Buffer).equals(readFileSync(join(dir, `m${i}.rd`))), `delta ${i}: output differs`);
    }
    const stray = readdirSync(dir).filter((f) => !/^(basis|new|[ab]\.(sig|delta)|out\.tmp|m\d+\.(delta|rd)|batch-.*\.sh)$/.test(f));
    assert.deepEqual(stray, []);
  } finally {
    cleanup();
  }
});

test('mutated signatures load to a clean error or give the same delta rdiff makes', async () => {
  const { dir, cleanup } = tempDir('fuzzsig');
  try {
    const rng = new Rng(99);
    const basisData = rng.bytes(12_000);
    writeFileSync(join(dir, 'basis'), basisData);
    const newData = Buffer.concat([basisData.subarray(500, 7000), rng.bytes(200), basisData.subarray(0, 3000)]);
    writeFileSync(join(dir, 'new'), newData);
    const seeds = [
      await signatureOfFile(join(dir, 'basis')),
      await signatureOfFile(join(dir, 'basis'), { blockLen: 0, hash: 'blake2', weak: 'rabinkarp' }),
      await signatureOfFile(join(dir, 'basis'), { blockLen: 700, hash: 'md4', weak: 'rabinkarp', strongLen: 6 }),
    ];
    const TOTAL = 2000, ORACLE = 300;
    let errors = 0;
    const oracle: Array<{ i: number; ours: Buffer | RsyncError }> = [];
    for (let i = 0; i < TOTAL; i++) {
      const sigBytes = mutate(seeds[i % seeds.length], rng);
      let ours: Buffer | RsyncError;
      try {
        const sig = parseSignature(sigBytes);
        const encoder = new DeltaEncoder(sig);
        ours = Buffer.concat([...encoder.write(newData), ...encoder.end()]);
      } catch (err) {
        if (!(err instanceof RsyncError)) throw err;
        ours = err;
        errors++;
      }
      if (i < ORACLE) {
        writeFileSync(join(dir, `s${i}.sig`), sigBytes);
        oracle.push({ i, ours });
      }
    }
    assert.ok(errors > 0 && errors < TOTAL, `${errors} of ${TOTAL} mutated signatures failed`);
    const failed = await rdiffBatch(dir, oracle.map(({ i }) => ['delta', join(dir, `s${i}.sig`), join(dir, 'new'), join(dir, `s${i}.rd`)]));
    let identical = 0;
    for (const { i, ours } of oracle) {
      assert.equal(ours instanceof RsyncError, failed.has(i),
        `signature ${i}: ours ${ours instanceof RsyncError ? ours.message : 'ok'}, rdiff exit ${failed.get(i) ?? 0}`);
      if (!failed.has(i)) {
        assert.ok((ours as Buffer).equals(readFileSync(join(dir, `s${i}.rd`))), `signature ${i}: delta differs from rdiff's`);
        identical++;
      }
    }
    assert.ok(identical > 0, 'some mutated signatures are still valid');
  } finally {
    cleanup();
  }
});
