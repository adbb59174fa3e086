/**
 * The daemon's remembered lstat() of directories (src/fs/dirstat.ts) and its generation: what
 * is derived from those answers (the daemon's access check of a file's next command) is kept
 * only while the generation stays the same.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirStatGeneration, enableDirStatCache, forgetDirStats, lstatDir } from '../../src/fs/dirstat.js';
import type { Config } from '../../src/config/model.js';
import { hasImpureDirectory } from '../../src/server/bookkeeping.js';
import { symlinkedDirectory } from '../../src/server/confine.js';

describe('directory lstat cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'csync2-ts-dirstat-'));
  after(async () => {
    enableDirStatCache(false);
    await rm(dir, { recursive: true, force: true });
  });

  it('off: no generation, every answer from the file system', () => {
    enableDirStatCache(false);
    assert.equal(dirStatGeneration(), -1);
    const d = join(dir, 'off');
    assert.equal(lstatDir(d), null);
    mkdirSync(d);
    assert.ok(lstatDir(d)?.isDirectory());
  });

  it('on: answers are remembered until forgotten; forgetting what was remembered changes the generation', () => {
    enableDirStatCache(true);
    const d = join(dir, 'on');
    mkdirSync(join(d, 'sub'), { recursive: true });
    const g0 = dirStatGeneration();
    assert.ok(g0 >= 0);
    assert.ok(lstatDir(d)?.isDirectory());
    assert.ok(lstatDir(join(d, 'sub'))?.isDirectory());
    // Replaced behind the cache's back: the remembered answer stands (a window like any check's).
    rmSync(join(d, 'sub'), { recursive: true });
    symlinkSync('/', join(d, 'sub'));
    assert.ok(lstatDir(join(d, 'sub'))?.isDirectory());
    assert.equal(dirStatGeneration(), g0);
    // Something never looked at: nothing derived can depend on it.
    forgetDirStats(join(dir, 'elsewhere'));
    assert.equal(dirStatGeneration(), g0);
    // The daemon changed an entry below `d`: the answers about it go, and the generation moves.
    forgetDirStats(d);
    const g1 = dirStatGeneration();
    assert.notEqual(g1, g0);
    assert.ok(lstatDir(join(d, 'sub'))?.isSymbolicLink());
  });

  it("a clean walk of a name's directories stands for the next name in the same directory while the generation does", () => {
    const cfg = { prefixes: [] } as unknown as Config;
    const cfg2 = { prefixes: [] } as unknown as Config;
    for (const on of [true, false]) {
      enableDirStatCache(on);
      const d = join(dir, `walk-${on}`);
      mkdirSync(join(d, 'a'), { recursive: true });
      mkdirSync(join(d, 'b'));
      assert.equal(symlinkedDirectory(cfg, join(d, 'a', 'f1')), null);
      assert.equal(hasImpureDirectory(cfg, join(d, 'a', 'f1')), false);
      const g = dirStatGeneration();
      // `a` becomes a symlink behind the daemon's back.
      rmSync(join(d, 'a'), { recursive: true });
      symlinkSync(join(d, 'b'), join(d, 'a'));
      // Cache on: the answers stand (as lstatDir()'s do) unless they aged meanwhile (a slow
      // machine: 50 ms); off: seen at once.
      const link = symlinkedDirectory(cfg, join(d, 'a', 'f2'));
      const impure = hasImpureDirectory(cfg, join(d, 'a', 'f2'));
      // Another config walks for itself (and reads the remembered answers: still nothing wrong).
      const link2 = symlinkedDirectory(cfg2, join(d, 'a', 'f2'));
      const staleAnswers = [null, false, null];
      const freshAnswers = [join(d, 'a'), true, join(d, 'a')];
      if (!on) assert.deepEqual([link, impure, link2], freshAnswers);
      else if (dirStatGeneration() === g) assert.deepEqual([link, impure, link2], staleAnswers);
      else [link, impure, link2].forEach((x, i) => assert.ok(x === staleAnswers[i] || x === freshAnswers[i]));
      // A name in another directory (below the link) is walked: `a/deeper` is missing.
      assert.equal(hasImpureDirectory(cfg, join(d, 'a', 'deeper', 'f')), true);
      if (on) {
        // The daemon changed `a` itself: the generation moves and the next name is walked again.
        forgetDirStats(join(d, 'a'));
        assert.equal(symlinkedDirectory(cfg, join(d, 'a', 'f3')), join(d, 'a'));
        assert.equal(hasImpureDirectory(cfg, join(d, 'a', 'f3')), true);
      }
    }
  });

  it('on: everything is dropped once it is old, and the generation moves', async () => {
    enableDirStatCache(true);
    const d = join(dir, 'aging');
    mkdirSync(d);
    assert.ok(lstatDir(d)?.isDirectory());
    const g0 = dirStatGeneration();
    rmSync(d, { recursive: true });
    await sleep(80);
    assert.notEqual(dirStatGeneration(), g0);
    assert.equal(lstatDir(d), null);
  });
});
