/**
 * Temp files of content writes (src/fs/tempfile.ts): csync2's names, our stable
 * first name, a fallback that is still recognisably ours, stale ones removed,
 * live ones removed when the process is stopped, and the check never takes one
 * of ours for a file of the tree (a csync2-style name it does take).
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  createTempFile, isOurTempName, releaseTemp, removeLiveTemps, tempNameTemplate,
} from '../../src/fs/tempfile.js';
import { createCluster, type TestHost } from '../helpers/index.js';

describe('temp files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'csync2-ts-temp-'));
  after(() => rm(dir, { recursive: true, force: true }));

  it('names like csync2: `.<basename>.XXXXXX`, one leading dot dropped, in the given directory', () => {
    assert.equal(tempNameTemplate(null, '/a/b/file.txt'), '/a/b/.file.txt.XXXXXX');
    assert.equal(tempNameTemplate(null, '/a/b/.hidden'), '/a/b/.hidden.XXXXXX');
    assert.equal(tempNameTemplate('/tmp', '/a/b/file.txt'), '/tmp/.file.txt.XXXXXX');
  });

  it('the first name is stable; a second writer of the same file gets `.cs` + 4 characters', async () => {
    const target = join(dir, 'f.txt');
    const first = await createTempFile(target, null);
    const second = await createTempFile(target, null);
    try {
      assert.equal(first.path, join(dir, '.f.txt.csTemp'));
      assert.match(second.path, /\/\.f\.txt\.cs[A-Za-z0-9]{4}$/);
      for (const t of [first, second]) assert.ok(isOurTempName(t.path.slice(dir.length + 1)), t.path);
    } finally {
      for (const t of [first, second]) {
        closeSync(t.fd);
        releaseTemp(t.path);
      }
    }
    // Nobody has the stable one open any more: the next write removes it and takes the name.
    const third = await createTempFile(target, null);
    assert.equal(third.path, join(dir, '.f.txt.csTemp'));
    // A stopped process removes what it was writing.
    removeLiveTemps();
    closeSync(third.fd);
    assert.equal(existsSync(third.path), false);
  });

  it('a name that leaves no room for a temp name fails with ENAMETOOLONG, the first time and later', async () => {
    const deep = `/${'d'.repeat(4095)}/f.txt`;
    for (let i = 0; i < 2; i++) {
      await assert.rejects(createTempFile(deep, null), (err: NodeJS.ErrnoException) => err.code === 'ENAMETOOLONG');
    }
  });

  it('isOurTempName: ours only', () => {
    for (const n of ['.a.csTemp', '.a.b.csAb12', '.x.cs0000']) assert.ok(isOurTempName(n), n);
    for (const n of ['a.csTemp', '.a.Ab12cd', '.a.cs123', '.a.csAb12x', '.csTemp']) assert.equal(isOurTempName(n), n === '.csTemp', n);
  });

  it('the check skips our temp files, not csync2-style names', async () => {
    const c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
    try {
      const h = c.hosts[0] as TestHost;
      await h.write('f.txt', 'f\n');
      for (const n of ['.f.txt.csTemp', '.f.txt.csAb12', '.f.txt.Ab12cd']) writeFileSync(h.path(n), 'in flight\n');
      const r = await h.run(['-cr', h.path('')]);
      assert.equal(r.code, 0, r.stderr.toString());
      const names = (await h.dump('file')).map((row) => row[0]!).filter((n) => n.includes('/'))
        .map((n) => n.replace(/^.*\//, '')).sort();
      assert.deepEqual(names, ['.f.txt.Ab12cd', 'f.txt'].sort(), JSON.stringify(names));
      assert.deepEqual(readdirSync(h.dataDir).sort(), ['.f.txt.Ab12cd', '.f.txt.csAb12', '.f.txt.csTemp', 'f.txt'].sort());
    } finally {
      await c.cleanup();
    }
  });
});
