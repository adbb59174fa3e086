/**
 * Overlapping cron runs: on host A two `csync2 -x` runs overlap while A's daemon
 * receives a push from B, round after round. No run may fail (in particular not
 * with "Database backend is exceedingly busy"), the trees converge, and the
 * real csync2 can still open A's database afterwards.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCluster, diffTrees, formatRun, sleep, type Cluster, type Daemon, type RunResult, type TestHost,
} from '../helpers/index.js';
import { DEADLOCK_MESSAGE } from '../../src/db/store.js';
import { Rng, SEED, scale } from './scale.js';
import { integrityOk } from './common.js';

const ROUNDS = scale(12, 100);
const FILES_PER_ROUND = 20;
/** More than the kernel's timestamp clock can lag behind Date.now() (one tick: 4 ms at HZ=250). */
const CLOCK_TICK_MARGIN_MS = 50;

describe('overlapping runs while the daemon receives', { concurrency: false }, () => {
  let cluster: Cluster;
  let a: TestHost;
  let b: TestHost;
  const daemons: Daemon[] = [];

  before(async () => {
    cluster = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
    [a, b] = cluster.hosts as [TestHost, TestHost];
    for (const h of [a, b]) daemons.push(await h.startDaemon({ mode: '-ii', verbose: 1, lifetimeMs: 0 }));
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await cluster.cleanup();
  });

  it(`${ROUNDS} rounds of two overlapping -x on A while B pushes to A (seed ${SEED})`, async (t: TestContext) => {
    const rng = new Rng(SEED);
    let failures = 0;
    const runLog: string[] = [];
    let lastWrite = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // csync2 sees a change by size and mtime in whole seconds: a rewrite of the same size in
      // the second of the version just synced is invisible to it (and to us). Rounds take under a
      // second now, so each round's writes start in a later second than the last round's. File
      // times come from the kernel's coarse clock, which lags Date.now() by up to a tick (a write
      // at Date.now() 312.001 got mtime 311.999): the next second must be 50 ms old.
      while (Math.floor((Date.now() - CLOCK_TICK_MARGIN_MS) / 1000) <= Math.floor(lastWrite / 1000)) await sleep(20);
      // Distinct files per host: every change has one writer, so nothing may conflict: a failure
      // here is a check mistaking a just-received file for a local change (csync2 has that race).
      for (let i = 0; i < FILES_PER_ROUND; i++) {
        await a.write(`a/${rng.int(60)}.txt`, `a round ${round} file ${i} ${rng.next()}\n`);
        await b.write(`b/${rng.int(60)}.txt`, `b round ${round} file ${i} ${rng.next()}\n`);
      }
      lastWrite = Date.now();
      const first = a.run(['-xv'], { timeoutMs: 120_000 });
      await sleep(rng.int(80));
      const runs: RunResult[] = await Promise.all([first, a.run(['-xv'], { timeoutMs: 120_000 }), b.run(['-xv'], { timeoutMs: 120_000 })]);
      runs.forEach((r, i) => runLog.push(`round ${round} run ${i} (${i < 2 ? 'A' : 'B'}):\n${r.stderr.toString()}`));
      for (const r of runs) {
        const text = r.stdout.toString() + r.stderr.toString();
        assert.ok(!text.includes(DEADLOCK_MESSAGE) && !/database is locked/i.test(text),
          `round ${round} (seed ${SEED}): busy database\n${formatRun(r)}`);
        if (r.code !== 0) failures++;
        const logs = daemons.map((d) => `--- daemon ${d.host.name} (end) ---\n${d.stderr().toString().slice(-4000)}`).join('\n');
        assert.equal(r.code, 0, `round ${round} (seed ${SEED})\n${formatRun(r)}\n${logs}`);
      }
    }
    t.diagnostic(`${ROUNDS} rounds, ${ROUNDS * 3} runs, ${failures} failed`);
    // A last quiet run on both sides, then every tree and database agrees.
    for (const h of [a, b]) {
      const r = await h.run(['-x'], { timeoutMs: 120_000 });
      assert.equal(r.code, 0, formatRun(r));
    }
    const diverged = diffTrees(await a.treeSnapshot(), await b.treeSnapshot());
    if (diverged.length > 0) {
      // Say what each daemon and run did with the diverging files.
      const names = diverged.map((d) => JSON.parse(d.slice(0, d.indexOf(':'))) as string);
      const about = (text: string): string => text.split('\n').filter((l) => names.some((n) => l.includes(`/${n}`))).join('\n');
      const logs = daemons.map((d) => `--- daemon ${d.host.name} ---\n${about(d.stderr().toString())}`).join('\n');
      const files: string[] = [];
      for (const n of names) {
        for (const h of [a, b]) {
          const st = await h.stat(n);
          const rows = await h.sql(`SELECT checktxt FROM file WHERE filename = '%25data%25/${n}'`);
          files.push(`${h.name} ${n}: ${JSON.stringify((await h.read(n)).toString())} mtime ${st?.mtimeMs} row ${JSON.stringify(rows)}`);
        }
      }
      assert.fail(`trees differ (seed ${SEED}):\n${diverged.join('\n')}\n${files.join('\n')}\n${logs}\n--- runs ---\n${about(runLog.join('\n'))}`);
    }
    for (const h of [a, b]) {
      assert.deepEqual(await h.dump('dirty'), [], `${h.name} still dirty`);
      assert.ok(await integrityOk(h), `${h.name} database integrity`);
    }
  });

  it('the real csync2 opens the database our runs left (WAL mode)', async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
    const r = await a.run(['-L'], { impl: 'real' });
    assert.equal(r.code, 0, formatRun(r));
    const ours = await a.run(['-L'], { impl: 'ours' });
    assert.equal(r.stdout.toString(), ours.stdout.toString(), 'same file list read by real csync2 and by ours');
    const check = await a.run(['-cr', '/'], { impl: 'real' });
    assert.equal(check.code, 0, formatRun(check));
  });
});
