/**
 * A changed file whose SIG reply already shows it differs (the peer's checktxt has another size,
 * mode or owner) needs no signature of the local file: the answer is known and, without -vv, the
 * comparison has nothing to show. The client's early signature of a big file (started when the SIG
 * is sent) then stops at the checktxt, and the file is read once, for the delta. For that the
 * checktxt must come early: csync2 sends it before it makes the signature, and our daemon now does
 * too for big files. Seen from outside: the client under strace, counting the bytes it reads from
 * the file. A change that keeps the size still gets its signature compared, and its delta is made
 * from the two signatures, reading only the changed blocks (to a real daemon while the daemon makes
 * PATCH's signature, and not made again).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCluster, formatRun, implCommand, straceCalls, type Cluster, type Impl, type TestHost } from '../helpers/index.js';

/**
 * The grown file's size. Its early signature races the checktxt: it starts when the SIG is sent
 * and stops when the reply comes. The old code read the file exactly twice (signature, delta); now
 * any stop before the signature's end reads less than that. The file is big enough that the reply
 * wins by far even on a loaded machine (a 32 MiB file lost it once in a full `make test`).
 */
const RACE_SIZE = 128 << 20;
/** The in-place case counts exactly (a full signature, then the changed blocks only). */
const SIZE = 8 << 20;

let c: Cluster;
let a: TestHost;
let b: TestHost;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
  [a, b] = c.hosts as [TestHost, TestHost];
});

after(() => c.cleanup());

/** Bytes the process read from files whose path ends with `suffix`, from `strace -f -y` output. */
function bytesReadFrom(trace: string, suffix: string): number {
  return straceCalls(trace)
    .filter((c) => /^p?read(64)?$/.test(c.name) && c.fdPath?.endsWith(suffix) && Number(c.result) > 0)
    .reduce((sum, c) => sum + Number(c.result), 0);
}

/** `-xv` from a to b's one-shot daemon, the client under strace; the bytes it read from `rel`. */
async function pushTraced(rel: string, impl: Impl, tag: string): Promise<number> {
  const trace = join(c.root, `strace-${tag}.txt`);
  const daemon = await b.startDaemon({ mode: '-iii', impl });
  const argv = ['strace', '-f', '-qq', '-y', '-e', 'trace=read,pread64', '-o', trace, ...implCommand('ours'), ...a.baseArgs(), '-xv'];
  const r = await c.tracker.run(argv, { env: a.env(), cwd: a.root });
  assert.equal(r.code, 0, formatRun(r));
  const ended = await daemon.exited;
  assert.equal(ended.code, 0, formatRun(ended, 'daemon'));
  assert.ok((await b.read(rel)).equals(await a.read(rel)), `${rel} differs on the peer`);
  return bytesReadFrom(await readFile(trace, 'latin1'), `/${rel}`);
}

for (const impl of ['ours', 'real'] as const) {
  test(`a big file whose size changed is read once, for its delta (${impl} daemon)`, async () => {
    const rel = `grown-${impl}.bin`;
    await a.write(rel, randomBytes(RACE_SIZE));
    const first = await pushTraced(rel, impl, `${impl}-new`);
    // New on the peer: read for the literal data only (the early signature stops at `path_not_found`).
    assert.ok(first < 2 * RACE_SIZE, `read ${first} bytes of a new file of ${RACE_SIZE}`);
    await appendFile(a.path(rel), randomBytes(4096));
    const grown = await pushTraced(rel, impl, `${impl}-grown`);
    assert.ok(grown >= RACE_SIZE, `read ${grown} bytes: less than the file`);
    assert.ok(grown < 2 * RACE_SIZE, `read ${grown} bytes of a file of ${RACE_SIZE + 4096}: the local signature was made`);
  });
}

for (const impl of ['ours', 'real'] as const) {
  test(`a big file changed in place (same size) gets its signature compared, and only the changed blocks read for the delta (${impl} daemon)`, async () => {
    const rel = `inplace-${impl}.bin`;
    const data = randomBytes(SIZE);
    await a.write(rel, data);
    await pushTraced(rel, impl, `${impl}-inplace-new`);
    data.fill(7, 1000, 5000);
    await a.write(rel, data);
    // Another mtime for the local check (the write may fall in the same second as the first).
    await a.setMtime(rel, 1_700_000_000);
    // Arrives whole (pushTraced compares); to a real daemon by PATCH, its delta made ahead (deltaAhead).
    const read = await pushTraced(rel, impl, `${impl}-inplace-changed`);
    // The checktxt (mtime left out, as csync2 compares it) is the same: the signature reads the file;
    // the two signatures then name the changed blocks, and the delta reads those only (rsync/inplace.ts).
    assert.ok(read >= SIZE, `read ${read} bytes of a file of ${SIZE}: no signature made`);
    assert.ok(read < SIZE + (64 << 10), `read ${read} bytes of a file of ${SIZE}: the delta read more than the changed blocks`);
  });
}
