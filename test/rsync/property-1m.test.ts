import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMatrix } from './property.js';

test('every edit of a 1 MiB + 7 file round-trips with rdiff and our deltas equal rdiff\'s', async (t) => {
  const tally = await runMatrix(t, (1 << 20) + 7, 77);
  assert.deepEqual(tally.different, [], 'deltas that differ from rdiff\'s');
});
