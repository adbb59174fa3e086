// bench/fs-floor: each way of writing the tree must produce the same tree, or its times compare unlike work.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateTree } from '../../bench/gen-tree.js';
import { FLOOR_MODES, readTree, replayTree } from '../../bench/fs-floor.js';
import { diffTrees, treeSnapshot } from '../helpers/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'csync2-ts-fsfloor-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('every floor mode writes the whole tree, with no temp file left', async () => {
  const src = join(scratch, 'src');
  generateTree(src, { files: 300, seed: 11 });
  const entries = readTree(src);
  assert.equal(entries.filter((e) => e.data !== null).length, 300);
  const want = await treeSnapshot(src);
  for (const mode of FLOOR_MODES) {
    const dst = join(scratch, mode);
    const ms = await replayTree(entries, dst, mode);
    assert.ok(ms > 0, `${mode}: ${ms} ms`);
    assert.deepEqual(diffTrees(want, await treeSnapshot(dst), { ignore: ['mtime', 'mode'] }), [], mode);
    const leftovers = readdirSync(dst, { recursive: true }).filter((n) => String(n).endsWith('.floor'));
    assert.deepEqual(leftovers, [], mode);
  }
  // The destination must be new: an existing one would mix two runs.
  await assert.rejects(replayTree(entries, join(scratch, 'nosync'), 'nosync'), { code: 'EEXIST' });
});
