import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMatrix } from './property.js';

for (const size of [0, 1, 2047, 2048, 2049]) {
  test(`every edit of a ${size}-byte file round-trips with rdiff and our deltas equal rdiff's`, async (t) => {
    const tally = await runMatrix(t, size, size * 1000);
    assert.deepEqual(tally.different, [], 'deltas that differ from rdiff\'s');
  });
}
