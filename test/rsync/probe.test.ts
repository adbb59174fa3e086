/**
 * sharesAlignedBlock(): the look for blocks that stayed where they were, which
 * lets a sender skip the delta scan of new content (src/rsync/probe.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSignature, resolveSigParams, SignatureBuilder, type SigOptions } from '../../src/rsync/index.js';
import { sharesAlignedBlock } from '../../src/rsync/probe.js';
import { Rng } from './fixtures.js';

function signatureOf(data: Buffer, opts: SigOptions = { blockLen: 2048 }): ReturnType<typeof parseSignature> {
  const b = new SignatureBuilder(resolveSigParams(opts, data.length));
  return parseSignature(Buffer.concat([b.header(), b.update(data), b.final()]));
}

test('blocks in place are found: the same data, an append, a changed range, a changed first block', () => {
  const rng = new Rng(7);
  const old = rng.bytes(40_000);
  const sig = signatureOf(old);
  assert.equal(sharesAlignedBlock(sig, old), true);
  assert.equal(sharesAlignedBlock(sig, Buffer.concat([old, rng.bytes(3000)])), true);
  const mid = Buffer.from(old);
  rng.bytes(500).copy(mid, 20_000);
  assert.equal(sharesAlignedBlock(sig, mid), true);
  const head = Buffer.from(old);
  rng.bytes(100).copy(head, 0);
  assert.equal(sharesAlignedBlock(sig, head), true);
});

test('new content, content shifted off the block boundaries and a peer file of one block: nothing found', () => {
  const rng = new Rng(8);
  const old = rng.bytes(40_000);
  const sig = signatureOf(old);
  assert.equal(sharesAlignedBlock(sig, rng.bytes(40_000)), false);
  assert.equal(sharesAlignedBlock(sig, Buffer.concat([Buffer.from('x'), old])), false);
  assert.equal(sharesAlignedBlock(sig, old.subarray(0, 2047)), false, 'no full block in the data');
  const tiny = rng.bytes(1500);
  assert.equal(sharesAlignedBlock(signatureOf(tiny), tiny), false, 'the peer\'s only block may be short');
});

test('a weak sum that matches alone is not enough; every signature kind is read', () => {
  const rng = new Rng(9);
  const old = rng.bytes(20_000);
  for (const opts of [
    { blockLen: 2048, hash: 'md4', weak: 'rollsum' },
    { blockLen: 1024, hash: 'blake2', weak: 'rabinkarp', strongLen: 8 },
    { blockLen: 4096, hash: 'md4', weak: 'rabinkarp' },
  ] as SigOptions[]) {
    const sig = signatureOf(old, opts);
    assert.equal(sharesAlignedBlock(sig, old), true, JSON.stringify(opts));
    assert.equal(sharesAlignedBlock(sig, rng.bytes(20_000)), false, JSON.stringify(opts));
  }
  // The same weak sums with other strong sums: every strong sum spoiled.
  const sigBytes = (() => {
    const b = new SignatureBuilder(resolveSigParams({ blockLen: 2048 }, old.length));
    return Buffer.concat([b.header(), b.update(old), b.final()]);
  })();
  for (let p = 12; p + 20 <= sigBytes.length; p += 20) sigBytes[p + 4] ^= 0xff;
  assert.equal(sharesAlignedBlock(parseSignature(sigBytes), old), false);
});
