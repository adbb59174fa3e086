/**
 * PathMap (src/server/pending.ts): the daemon's index of received files by path. A command waits
 * for the files at, above or below its path; the index must find exactly those, also after
 * deletions, replacements and for the root.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PathMap, isRelatedPath } from '../../src/server/pending.js';

describe('PathMap', () => {
  it('finds the entries at, below and above a path, in arrival order, and nothing else', () => {
    const m = new PathMap<number>();
    m.set('/d/a/x', 1);
    m.set('/d/b/y', 2);
    m.set('/d/a/z', 3);
    m.set('/d/ab', 4);
    assert.deepEqual(m.related('/d/a/x'), [1]);
    assert.deepEqual(m.related('/d/a'), [1, 3], 'below a directory');
    assert.deepEqual(m.related('/d'), [1, 2, 3, 4]);
    assert.deepEqual(m.related('/'), [1, 2, 3, 4], 'the root');
    assert.deepEqual(m.related('/d/a/x/under'), [1], 'above a path');
    assert.deepEqual(m.related('/d/a/q'), [], 'a sibling');
    assert.deepEqual(m.related('/d/abc'), [], '/d/ab is not a directory of /d/abc');
    assert.deepEqual(m.relatedEntries('/d/ab/k'), [['/d/ab', 4]]);
  });

  it('forgets deleted entries; a delete with another value keeps the newer one', () => {
    const m = new PathMap<string>();
    m.set('/t/f', 'old');
    m.set('/t/f', 'new');
    assert.equal(m.size, 1);
    m.delete('/t/f', 'old');
    assert.deepEqual(m.related('/t'), ['new'], 'the old value\'s delete leaves the new one');
    m.delete('/t/f', 'new');
    assert.equal(m.size, 0);
    assert.deepEqual(m.related('/t'), []);
    m.set('/t/g', 'g');
    m.delete('/t/g');
    assert.deepEqual(m.related('/'), [], 'no count below a directory is left behind');
    m.set('/', 'root');
    assert.deepEqual(m.related('/x'), ['root']);
  });

  it('agrees with a scan of every entry (random paths; entries are files: none lies below another)', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const path = (): string => `/${Array.from({ length: 1 + rnd(4) }, () => 'abc'[rnd(3)]).join('/')}`;
    const m = new PathMap<string>();
    const live = new Map<string, string>();
    for (let step = 0; step < 2000; step++) {
      const p = path();
      if (rnd(3) === 0) {
        m.delete(p);
        live.delete(p);
      } else if (![...live.keys()].some((r) => r !== p && isRelatedPath(r, p))) {
        m.set(p, p);
        live.set(p, p);
      }
      const q = path();
      const want = [...live.keys()].filter((r) => isRelatedPath(r, q)).sort();
      assert.deepEqual([...m.related(q)].sort(), want, `step ${step}: related(${q})`);
    }
  });
});
