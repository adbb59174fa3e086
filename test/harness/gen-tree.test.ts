// bench/gen-tree: the benchmark trees must be reproducible, or ours/real comparisons mean nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateTree, listFiles, touchTree } from '../../bench/gen-tree.js';
import { diffTrees, treeSnapshot } from '../helpers/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'csync2-ts-gentree-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('the same seed gives the same tree; touch changes the same files on both copies', async () => {
  const a = join(scratch, 'a');
  const b = join(scratch, 'b');
  const c = join(scratch, 'c');
  const ra = generateTree(a, { files: 600, seed: 7 });
  generateTree(b, { files: 600, seed: 7 });
  generateTree(c, { files: 600, seed: 8 });
  assert.equal(ra.files, 600);
  assert.equal(listFiles(a).length, 600);
  const snapA = await treeSnapshot(a);
  assert.deepEqual(diffTrees(snapA, await treeSnapshot(b)), []);
  assert.notDeepEqual(diffTrees(snapA, await treeSnapshot(c)), []);

  const files = snapA.filter((e) => e.type === 'reg');
  assert.ok(files.every((e) => e.size <= 65536));
  assert.ok(files.filter((e) => e.size < 1024).length > files.length / 2, 'mostly small files');
  const depth = Math.max(...snapA.map((e) => e.path.split('/').length));
  assert.ok(depth >= 3 && depth <= 6, `depth ${depth}`);

  assert.equal(touchTree(a, 1, 3), 6);
  assert.equal(touchTree(b, 1, 3), 6);
  const touchedA = await treeSnapshot(a);
  assert.deepEqual(diffTrees(touchedA, await treeSnapshot(b)), []);
  const changed = diffTrees(snapA, touchedA, { ignore: ['size', 'hash'] });
  assert.equal(changed.length, 6, changed.join('\n'));
  assert.ok(changed.every((line) => / mtime /.test(line)));
});
