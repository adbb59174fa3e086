/**
 * The property matrix against the real rdiff (issue 4, "Done when"): for every
 * size x edit x block size,
 *  1. our MD4/rollsum signature is byte-identical to rdiff's;
 *  2. rdiff patches our delta into the new file, and our delta is compared
 *     with rdiff's byte for byte;
 *  3. our patcher turns rdiff's delta into the new file;
 * and for every size x edit, a delta we make from rdiff's default (BLAKE2 +
 * RabinKarp, block size by file size) signature patches correctly with rdiff.
 *
 * rdiff runs in batches (one shell per phase): spawning it once per command
 * from node made the small-file matrix take 20 s.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { EDITS, makeCase, ourDelta, ourPatch, ourSignature, rdiffBatch, tempDir, type Edit } from './fixtures.js';

export const BLOCK_SIZES = [512, 2048, 65536];

export interface Tally {
  deltas: number;
  identical: number;
  different: string[];
}

interface Case {
  edit: Edit;
  basis: string;
  next: string;
  want: Buffer;
}

export async function runMatrix(t: TestContext, size: number, seedBase: number): Promise<Tally> {
  const tally: Tally = { deltas: 0, identical: 0, different: [] };
  const { dir, cleanup } = tempDir(`prop${size}`);
  try {
    const cases: Case[] = EDITS.map((edit, i) => {
      const { basis, next } = makeCase(size, edit, seedBase + i);
      const c = { edit, basis: join(dir, `${edit}.basis`), next: join(dir, `${edit}.new`), want: next };
      writeFileSync(c.basis, basis);
      writeFileSync(c.next, next);
      return c;
    });
    const p = (c: Case, name: string): string => join(dir, `${c.edit}.${name}`);
    const must = (failed: Map<number, number>, commands: string[][]): void => {
      for (const [i, code] of failed) assert.fail(`rdiff ${commands[i].join(' ')} exited ${code}`);
    };

    // Phase 1: rdiff signatures (csync2's kind at each block size, and rdiff's default kind).
    const phase1: string[][] = [];
    for (const c of cases) {
      for (const b of BLOCK_SIZES) phase1.push(['-H', 'md4', '-R', 'rollsum', '-b', String(b), '-S', '0', 'signature', c.basis, p(c, `${b}.rd.sig`)]);
      phase1.push(['signature', c.basis, p(c, 'b2.rd.sig')]);
      for (const b of BLOCK_SIZES) phase1.push(['delta', p(c, `${b}.rd.sig`), c.next, p(c, `${b}.rd.delta`)]);
      phase1.push(['delta', p(c, 'b2.rd.sig'), c.next, p(c, 'b2.rd.delta')]);
    }
    must(await rdiffBatch(dir, phase1), phase1);

    // Phase 2: ours. Signatures must equal rdiff's; deltas from them and from rdiff's BLAKE2 one.
    for (const c of cases) {
      const label = `size ${size}, ${c.edit}`;
      for (const b of BLOCK_SIZES) {
        const ours = await ourSignature(c.basis, { blockLen: b });
        assert.ok(ours.equals(readFileSync(p(c, `${b}.rd.sig`))), `${label}, block ${b}: signature differs from rdiff's`);
        await ourDelta(ours, c.next, p(c, `${b}.ts.delta`));
        await ourPatch(c.basis, p(c, `${b}.rd.delta`), p(c, `${b}.ts.out`));
        assert.ok(readFileSync(p(c, `${b}.ts.out`)).equals(c.want), `${label}, block ${b}: our patch of rdiff's delta is wrong`);
      }
      await ourDelta(readFileSync(p(c, 'b2.rd.sig')), c.next, p(c, 'b2.ts.delta'));
    }

    // Phase 3: rdiff patches every delta of ours.
    const phase3: string[][] = [];
    for (const c of cases) {
      for (const kind of [...BLOCK_SIZES.map(String), 'b2']) phase3.push(['patch', c.basis, p(c, `${kind}.ts.delta`), p(c, `${kind}.rd.out`)]);
    }
    must(await rdiffBatch(dir, phase3), phase3);
    for (const c of cases) {
      for (const kind of [...BLOCK_SIZES.map(String), 'b2']) {
        const label = `size ${size}, ${c.edit}, ${kind === 'b2' ? 'BLAKE2/RabinKarp signature' : `block ${kind}`}`;
        assert.ok(readFileSync(p(c, `${kind}.rd.out`)).equals(c.want), `${label}: rdiff patch of our delta is wrong`);
        tally.deltas++;
        if (readFileSync(p(c, `${kind}.ts.delta`)).equals(readFileSync(p(c, `${kind}.rd.delta`)))) tally.identical++;
        else tally.different.push(label);
      }
    }
  } finally {
    cleanup();
  }
  t.diagnostic(`size ${size}: ${tally.identical}/${tally.deltas} deltas byte-identical to rdiff's`);
  return tally;
}
