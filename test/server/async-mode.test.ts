/**
 * -A on our daemon. csync2's "asynchronous mode" gives up the database's syncs; our daemon then
 * also leaves received files and their directories unflushed, as csync2 never flushes them.
 * Without -A every received file is flushed before it is put in place: by its own fdatasync, or
 * (on ext4, xfs and btrfs, src/fs/flushgroup.ts) by a syncfs of its file system begun after the
 * file was written. Seen from outside: the daemon runs under strace, which records its writes,
 * flush calls and renames with times (and its syncfs helper's, a child of it). The files arrive
 * and no temp file is left either way.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCluster, diffTrees, formatRun, straceCalls, type Cluster, type TestHost } from '../helpers/index.js';

const FILES = 20;

let c: Cluster;
let client: TestHost;
let server: TestHost;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
  [client, server] = c.hosts as [TestHost, TestHost];
});

after(() => c.cleanup());

const TRACED = 'trace=write,pwrite64,writev,pwritev,fsync,fdatasync,syncfs,rename,renameat,renameat2';

/** Push FILES new files in `dir` to a one-shot daemon (with `daemonArgs`) under strace; the trace's lines. */
async function pushTraced(dir: string, daemonArgs: string[]): Promise<string[]> {
  for (let i = 0; i < FILES; i++) await client.write(`${dir}/f${i}.txt`, `${dir} file ${i}\n`.repeat(i + 1));
  const trace = join(c.root, `strace-${dir}.txt`);
  const daemon = await server.startDaemon({
    mode: '-iii', extraArgs: daemonArgs, wrapper: ['strace', '-f', '-qq', '-ttt', '-y', '-e', TRACED, '-o', trace],
  });
  const r = await client.run(['-xv']);
  assert.equal(r.code, 0, formatRun(r));
  const ended = await daemon.exited;
  assert.equal(ended.code, 0, formatRun(ended, 'daemon'));
  assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot()), []);
  return (await readFile(trace, 'latin1')).split('\n');
}

interface Flush { path: string | null; start: number; end: number }

/**
 * For each received file: when its temp file was last written, when it was renamed in place,
 * and the flush calls that succeeded (fdatasync of a file: its path; syncfs: null, the whole file system).
 */
function readTrace(lines: string[], dir: string): { writes: Map<string, number>; renames: Map<string, number>; flushes: Flush[] } {
  const writes = new Map<string, number>();
  const renames = new Map<string, number>();
  const flushes: Flush[] = [];
  const temp = (path: string | null | undefined): path is string => path?.includes(`/${dir}/.`) === true;
  for (const c of straceCalls(lines.join('\n'))) {
    if (/^(fsync|fdatasync|syncfs)$/.test(c.name)) {
      if (c.result !== '-1') flushes.push({ path: c.name === 'syncfs' ? null : c.fdPath, start: c.start, end: c.end });
    } else if (/^p?writev?$|^pwrite64$/.test(c.name) && temp(c.fdPath)) {
      writes.set(c.fdPath, c.start);
    } else if (/^rename/.test(c.name)) {
      const from = /"([^"]*)"/.exec(c.args)?.[1];
      if (temp(from)) renames.set(from, c.start);
    }
  }
  return { writes, renames, flushes };
}

test('without -A each received file is flushed after it was written and before it is put in place', async () => {
  const { writes, renames, flushes } = readTrace(await pushTraced('durable', []), 'durable');
  assert.equal(renames.size, FILES, `renames of temp files seen: ${[...renames.keys()].join(', ')}`);
  for (const [temp, renamedAt] of renames) {
    const written = writes.get(temp);
    assert.ok(written !== undefined, `no write of ${temp} seen`);
    const covering = flushes.find((f) => (f.path === null || f.path === temp) && f.start >= written && f.end <= renamedAt);
    assert.ok(covering, `${temp}: written at ${written}, renamed at ${renamedAt}, no flush between: ${JSON.stringify(flushes)}`);
  }
});

test('with -A nothing is flushed: neither the files, their directories nor the database', async () => {
  const { flushes, renames } = readTrace(await pushTraced('async', ['-A']), 'async');
  assert.equal(renames.size, FILES);
  assert.deepEqual(flushes, []);
});
