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

test('the other shapes: one flat directory, many deep directories, odd names', async () => {
  const flat = join(scratch, 'flat');
  assert.equal(generateTree(flat, { files: 300, seed: 1, perDir: [300, 300] }).dirs, 1);
  assert.ok(listFiles(flat).every((p) => p.split('/').length === 2), 'every file directly below the root');

  const dirs = join(scratch, 'dirs');
  const rd = generateTree(dirs, { files: 200, seed: 2, perDir: [0, 2], maxDepth: 40 });
  assert.equal(rd.files, 200);
  assert.equal(rd.dirs, 200);
  const deepest = Math.max(...(await treeSnapshot(dirs)).map((e) => e.path.split('/').length));
  assert.ok(deepest > 7, `directories nest deeper than tree10k's 5 levels (${deepest})`);

  const odd = join(scratch, 'odd');
  generateTree(odd, { files: 300, seed: 3, names: 'odd' });
  const names = listFiles(odd);
  assert.equal(names.length, 300);
  assert.ok(names.some((p) => /[^\x00-\x7f]/.test(p)), 'names outside ASCII');
  assert.ok(names.some((p) => p.includes('%')) && names.some((p) => p.includes("'")), 'names with % and quotes');
});
