/**
 * The delta of a file changed in place made from two signatures (src/rsync/inplace.ts): it must
 * patch the basis into the file with our patcher and with the real rdiff (a csync2 daemon gets it
 * after PATCH), read only the blocks that differ, and refuse where a scan is needed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inPlaceDelta, planInPlace, type InPlacePlan } from '../../src/rsync/inplace.js';
import { patchToFile, signatureOfFile } from '../../src/rsync/index.js';
import { rdiff } from './fixtures.js';

/** csync2's signature parameters. */
const CSYNC2_SIG = { blockLen: 2048 };

/** The in-place delta of the file at `path` by `plan`, whole. */
function deltaOf(path: string, plan: InPlacePlan): Buffer {
  const fd = openSync(path, 'r');
  try {
    return Buffer.concat([...inPlaceDelta(fd, plan)]);
  } finally {
    closeSync(fd);
  }
}

/** `basis` patched by `delta` with our patcher, written to `outPath` and read back. */
async function patched(basis: string, delta: Buffer, outPath: string): Promise<Buffer> {
  const out = openSync(outPath, 'w');
  try {
    await patchToFile(basis, [delta], out);
  } finally {
    closeSync(out);
  }
  return readFileSync(outPath);
}

function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'csync2-inplace-'));
  return body(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('changed blocks go as literals, the rest as copies; our patcher and rdiff rebuild the file', () => withDir(async (dir) => {
  const basis = join(dir, 'basis');
  const file = join(dir, 'file');
  const old = randomBytes((3 << 20) + 777); // a last block shorter than the others
  const now = Buffer.from(old);
  now.fill(1, 10_000, 10_100); // inside one block
  now.fill(2, 2047, 2049); // across two
  now.fill(3, now.length - 5); // in the short last block
  writeFileSync(basis, old);
  writeFileSync(file, now);
  const theirs = await signatureOfFile(basis, CSYNC2_SIG);
  const mine = await signatureOfFile(file, CSYNC2_SIG);
  const plan = planInPlace(mine, theirs, now.length);
  assert.ok(plan !== null);
  assert.equal(plan.differs.reduce((a, b) => a + b, 0), 4);
  const delta = deltaOf(file, plan);
  // Four blocks of literals (the last one short) and a few commands.
  assert.ok(delta.length > 3 * 2048 + 777 && delta.length < 4 * 2048 + 200, `delta of ${delta.length} bytes`);
  const deltaPath = join(dir, 'delta');
  writeFileSync(deltaPath, delta);
  assert.ok((await patched(basis, delta, join(dir, 'ours'))).equals(now), 'our patcher');
  const real = join(dir, 'real');
  const r = await rdiff(['patch', basis, deltaPath, real]);
  assert.equal(r.code, 0, r.stderr.toString());
  assert.ok(readFileSync(real).equals(now), 'rdiff patch');
}));

test('no plan where a scan is needed: data moved, other sizes or parameters; a file that changed size since is refused', () => withDir(async (dir) => {
  const basis = join(dir, 'basis');
  const old = randomBytes(1 << 20);
  writeFileSync(basis, old);
  const theirs = await signatureOfFile(basis, CSYNC2_SIG);
  // One byte inserted near the start (and one cut at the end: the same size): nearly every block differs.
  const moved = Buffer.concat([old.subarray(0, 100), Buffer.from([0]), old.subarray(100, old.length - 1)]);
  writeFileSync(join(dir, 'moved'), moved);
  assert.equal(planInPlace(await signatureOfFile(join(dir, 'moved'), CSYNC2_SIG), theirs, moved.length), null);
  const longer = Buffer.concat([old, Buffer.from('tail')]);
  writeFileSync(join(dir, 'longer'), longer);
  assert.equal(planInPlace(await signatureOfFile(join(dir, 'longer'), CSYNC2_SIG), theirs, longer.length), null);
  assert.equal(planInPlace(await signatureOfFile(basis, { blockLen: 4096 }), theirs, old.length), null);
  // The same content: a plan of copies only.
  const same = planInPlace(theirs, theirs, old.length);
  assert.ok(same !== null && same.differs.every((d) => d === 0));
  const fd = openSync(join(dir, 'longer'), 'r');
  try {
    assert.throws(() => [...inPlaceDelta(fd, same)], /changed size/);
  } finally {
    closeSync(fd);
  }
}));

test('random files changed in place: every plan patches the basis into the file', () => withDir(async (dir) => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const basis = join(dir, 'basis');
  const file = join(dir, 'file');
  let planned = 0;
  for (let round = 0; round < 40; round++) {
    const size = rnd(300_000);
    const opts = [{ blockLen: 2048 }, { blockLen: 1000 }, { blockLen: 700, strongLen: 8 }][round % 3]!;
    const old = randomBytes(size);
    const now = Buffer.from(old);
    for (let k = rnd(4); k > 0 && size > 0; k--) {
      const at = rnd(size);
      now.fill(rnd(256), at, Math.min(size, at + 1 + rnd(3000)));
    }
    writeFileSync(basis, old);
    writeFileSync(file, now);
    const plan = planInPlace(await signatureOfFile(file, opts), await signatureOfFile(basis, opts), size);
    if (plan === null) continue; // too much changed for this way: the scan's job
    planned++;
    const got = await patched(basis, deltaOf(file, plan), join(dir, 'out'));
    assert.ok(got.equals(now), `round ${round}: size ${size}, ${JSON.stringify(opts)}`);
  }
  assert.ok(planned >= 20, `only ${planned} of 40 rounds planned`);
}));
