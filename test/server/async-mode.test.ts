/**
 * -A on our daemon. csync2's "asynchronous mode" gives up the database's syncs; our daemon then
 * also leaves received files and their directories unflushed, as csync2 never flushes them.
 * Without -A every received file is flushed before it is put in place. Seen from outside: the
 * daemon runs under strace, which records its fsync and fdatasync calls. The files arrive and
 * no temp file is left either way.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCluster, diffTrees, formatRun, type Cluster, type TestHost } from '../helpers/index.js';

const FILES = 20;

let c: Cluster;
let client: TestHost;
let server: TestHost;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
  [client, server] = c.hosts as [TestHost, TestHost];
});

after(() => c.cleanup());

/** Push FILES new files in `dir` to a one-shot daemon (with `daemonArgs`) under strace; its flush calls. */
async function pushAndTraceFlushes(dir: string, daemonArgs: string[]): Promise<string[]> {
  for (let i = 0; i < FILES; i++) await client.write(`${dir}/f${i}.txt`, `${dir} file ${i}\n`.repeat(i + 1));
  const trace = join(c.root, `strace-${dir}.txt`);
  const daemon = await server.startDaemon({
    mode: '-iii', extraArgs: daemonArgs, wrapper: ['strace', '-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', trace],
  });
  const r = await client.run(['-xv']);
  assert.equal(r.code, 0, formatRun(r));
  const ended = await daemon.exited;
  assert.equal(ended.code, 0, formatRun(ended, 'daemon'));
  assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot()), []);
  return (await readFile(trace, 'latin1')).split('\n').filter((l) => /\b(fsync|fdatasync)\(/.test(l));
}

test('without -A each received file is flushed before it is put in place', async () => {
  const flushes = await pushAndTraceFlushes('durable', []);
  assert.ok(flushes.length >= FILES, `only ${flushes.length} flush calls for ${FILES} files:\n${flushes.join('\n')}`);
});

test('with -A nothing is flushed: neither the files, their directories nor the database', async () => {
  const flushes = await pushAndTraceFlushes('async', ['-A']);
  assert.deepEqual(flushes, []);
});
