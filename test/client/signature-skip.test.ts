/**
 * A changed file whose SIG reply already shows it differs (the peer's checktxt has another size,
 * mode or owner) needs no signature of the local file: the answer is known and, without -vv, the
 * comparison has nothing to show. The client's early signature of a big file (started when the SIG
 * is sent) then stops at the checktxt, and the file is read once, for the delta. For that the
 * checktxt must come early: csync2 sends it before it makes the signature, and our daemon now does
 * too for big files. Seen from outside: the client under strace, counting the bytes it reads from
 * the file. A change that keeps the size still gets its signature compared (and is sent; to a real
 * daemon its delta is made while the daemon makes PATCH's signature, and not made again).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCluster, formatRun, implCommand, type Cluster, type Impl, type TestHost } from '../helpers/index.js';

const SIZE = 32 << 20;

let c: Cluster;
let a: TestHost;
let b: TestHost;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
  [a, b] = c.hosts as [TestHost, TestHost];
});

after(() => c.cleanup());

/**
 * Bytes the process read from files whose path ends with `suffix`, from `strace -f -y` output:
 * a call cut in two by another thread's (`<unfinished ...>`, later `<... resumed>`) is joined by pid.
 */
function bytesReadFrom(trace: string, suffix: string): number {
  let total = 0;
  const openCall = new Map<string, boolean>();
  for (const line of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, rest] = m as unknown as [string, string, string];
    const call = /^p?read(?:64)?\((\d+)<([^>]*)>/.exec(rest);
    const ours = call ? call[2]!.endsWith(suffix) : openCall.get(pid) === true;
    if (call && rest.endsWith('<unfinished ...>')) {
      openCall.set(pid, ours);
      continue;
    }
    if (!call && !/^<\.\.\. p?read(?:64)? resumed>/.test(rest)) continue;
    openCall.delete(pid);
    const ret = /= (\d+)$/.exec(rest);
    if (ours && ret) total += Number(ret[1]);
  }
  return total;
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
    await a.write(rel, randomBytes(SIZE));
    const first = await pushTraced(rel, impl, `${impl}-new`);
    // New on the peer: read for the literal data only (the early signature stops at `path_not_found`).
    assert.ok(first < SIZE * 1.5, `read ${first} bytes of a new file of ${SIZE}`);
    await appendFile(a.path(rel), randomBytes(4096));
    const grown = await pushTraced(rel, impl, `${impl}-grown`);
    assert.ok(grown >= SIZE, `read ${grown} bytes: less than the file`);
    assert.ok(grown < SIZE * 1.5, `read ${grown} bytes of a file of ${SIZE + 4096}: the local signature was made`);
  });
}

for (const impl of ['ours', 'real'] as const) {
  test(`a big file changed in place (same size) still gets its signature compared (${impl} daemon)`, async () => {
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
    // The checktxt (mtime left out, as csync2 compares it) is the same: signature and delta both read it.
    assert.ok(read >= SIZE * 2, `read ${read} bytes of a file of ${SIZE}`);
    assert.ok(read < SIZE * 2.5, `read ${read} bytes of a file of ${SIZE}: the delta was made twice`);
  });
}
