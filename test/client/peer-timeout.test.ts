/**
 * A peer that is there but stuck (src/net/peer-timeout.ts, CSYNC2_TS_PEER_TIMEOUT): the client
 * drops it after the timeout without traffic, leaves its rows dirty and serves its other peers;
 * csync2 would wait for ever. Two stuck peers: one that accepts and never answers, and our own
 * daemon stopped (SIGSTOP) in the middle of receiving a large file, which must leave nothing
 * half-written in place and take the file whole on the next run.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { PEER_TIMEOUT_ENV, peerTimeoutMs } from '../../src/net/peer-timeout.js';
import { isOurTempName } from '../../src/fs/tempname.js';
import { createCluster, formatRun, silentListener, sleep, type Cluster, type TestHost } from '../helpers/index.js';

let c: Cluster;
let a: TestHost;
let stuck: TestHost;
let good: TestHost;
const TIMEOUT = { [PEER_TIMEOUT_ENV]: '2' };

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }, { impl: 'ours' }] });
  [a, stuck, good] = c.hosts as [TestHost, TestHost, TestHost];
});

after(() => c.cleanup());

const dirtyFor = async (peer: TestHost): Promise<string[]> =>
  (await a.sql(`SELECT filename FROM dirty WHERE peername = '${peer.name}' ORDER BY filename`)).map((r) => r[0]!);

test('the timeout: seconds from the environment, 0 or more than a timer holds = none, 30 minutes by default', () => {
  assert.equal(peerTimeoutMs({}), 1_800_000);
  assert.equal(peerTimeoutMs({ [PEER_TIMEOUT_ENV]: '2' }), 2000);
  assert.equal(peerTimeoutMs({ [PEER_TIMEOUT_ENV]: '0' }), 0);
  for (const bad of ['', 'soon', '-5']) assert.equal(peerTimeoutMs({ [PEER_TIMEOUT_ENV]: bad }), 1_800_000, bad);
  // Beyond what a node timer takes (it would fire at once): no timeout.
  assert.equal(peerTimeoutMs({ [PEER_TIMEOUT_ENV]: String(10 ** 9) }), 0);
});

test('a peer that accepts and never answers is dropped; the other peer is served', async () => {
  const silent = await silentListener(stuck.name, stuck.port);
  const daemon = await good.startDaemon({ verbose: 0 });
  try {
    await a.write('both.txt', 'for both peers\n');
    const started = Date.now();
    const r = await a.run(['-xv'], { env: TIMEOUT, timeoutMs: 30_000 });
    const took = Date.now() - started;
    const err = r.stderr.toString('latin1');
    assert.equal(r.code, 1, formatRun(r));
    assert.ok(took < 15_000, `took ${took} ms`);
    assert.match(err, new RegExp(`ERROR: Peer ${stuck.name.replace(/\./g, '\\.')} sent nothing for 2 s`));
    assert.ok(err.includes(`ERROR: Connection to remote host \`${stuck.name}' failed.`), err);
    assert.equal((await good.read('both.txt')).toString(), 'for both peers\n');
    assert.deepEqual(await dirtyFor(good), []);
    assert.ok((await dirtyFor(stuck)).some((f) => f.endsWith('/both.txt')), 'the stuck peer keeps its row');
  } finally {
    await daemon.stop();
    await silent.close();
  }
});

test('a daemon stopped while it receives a large file: dropped, nothing half-written, delivered on the next run', async () => {
  // Only `good` is served (-P): `stuck`'s rows from the test before stay as they are.
  const big = randomBytes(160 << 20);
  await a.write('big.bin', big);
  const daemon = await good.startDaemon({ verbose: 0 });
  let stopped = false;
  try {
    const run = a.run(['-xv', '-P', good.name], { env: TIMEOUT, timeoutMs: 60_000 });
    // Stop the daemon once the file is on its way (its temp file exists).
    for (let i = 0; i < 1500 && !stopped; i++) {
      if (readdirSync(good.path('')).some((n) => isOurTempName(n))) {
        process.kill(daemon.pid, 'SIGSTOP');
        stopped = true;
      } else {
        await sleep(5);
      }
    }
    assert.ok(stopped, 'the transfer never started');
    const r = await run;
    const err = r.stderr.toString('latin1');
    assert.equal(r.code, 1, formatRun(r));
    assert.match(err, /sent nothing for 2 s/);
    assert.ok((await dirtyFor(good)).some((f) => f.endsWith('/big.bin')), 'big.bin stays dirty for the stopped peer');
    assert.ok(!readdirSync(good.path('')).includes('big.bin'), 'nothing in place while the daemon is stopped');

    process.kill(daemon.pid, 'SIGCONT');
    stopped = false;
    // The daemon sees its session end and removes the temp file; a rerun delivers the file whole.
    const again = await a.run(['-xv', '-P', good.name], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, formatRun(again));
    assert.ok((await good.read('big.bin')).equals(big), 'big.bin arrived whole');
    assert.deepEqual(readdirSync(good.path('')).filter((n) => isOurTempName(n)), []);
    assert.deepEqual(await dirtyFor(good), []);
  } finally {
    if (stopped) process.kill(daemon.pid, 'SIGCONT');
    await daemon.stop();
  }
});
