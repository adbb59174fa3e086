import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMatrix } from './property.js';

test('every edit of a 20 MiB file round-trips with rdiff and our deltas equal rdiff\'s', async (t) => {
  const tally = await runMatrix(t, 20 << 20, 2020);
  assert.deepEqual(tally.different, [], 'deltas that differ from rdiff\'s');
});
