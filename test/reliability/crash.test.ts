/**
 * Crash consistency: kill -9 of the daemon and, separately, of the client at
 * random moments while a big file or many small files are pushed. After each
 * kill: every file on the receiver holds its old or its new content, and no
 * file lost its dirty row on the client without having arrived. After the next
 * successful run: the trees are equal, no temp file is left, every database
 * passes `PRAGMA integrity_check` and nothing is dirty.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  createCluster, diffTrees, formatRun, sleep, type Cluster, type Daemon, type Impl, type TestHost,
} from '../helpers/index.js';
import { FULL, Rng, SEED, scale } from './scale.js';
import { CLIENT_IMPLS, integrityOk, tempFilesIn } from './common.js';

interface Scenario {
  name: string;
  /** Writes version `v` of the client's tree; returns the sha256 of every file by relative path. */
  write(host: TestHost, v: number): Promise<Map<string, string>>;
}

const BIG_MB = scale(24, 200);
const SMALL_FILES = scale(500, 10_000);
const TRIALS = scale(2, 20);

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

const BIG: Scenario = {
  name: `a ${BIG_MB} MB file`,
  async write(host, v) {
    // New random content each version: the delta is as large as the file.
    const content = randomBytes(BIG_MB << 20);
    await host.write('big.bin', content);
    await host.setMtime('big.bin', 1_700_000_000 + v);
    return new Map([['big.bin', sha(content)]]);
  },
};

const SMALL: Scenario = {
  name: `${SMALL_FILES} small files`,
  async write(host, v) {
    const sums = new Map<string, string>();
    for (let i = 0; i < SMALL_FILES; i++) {
      const rel = `d${i % 40}/f${i}.txt`;
      const content = Buffer.from(`version ${v} of file ${i}\n${'x'.repeat(i % 3000)}`);
      await host.write(rel, content);
      await host.setMtime(rel, 1_700_000_000 + v);
      sums.set(rel, sha(content));
    }
    return sums;
  },
};

async function hashOf(host: TestHost, rel: string): Promise<string | null> {
  try {
    return sha(await host.read(rel));
  } catch {
    return null;
  }
}

describe('kill -9 during a push', { concurrency: false }, () => {
  // Our daemon with each client; and our client against a real daemon (only the client is killed
  // there: the real daemon's own crash behaviour is not ours to assert).
  // The sample in `make test` gives each pair one scenario (alternating); the full run gives all.
  const pairs: { clientImpl: Impl; serverImpl: Impl; targets: ('daemon' | 'client')[]; sample: Scenario[] }[] = [
    ...CLIENT_IMPLS.map((clientImpl, i) => ({
      clientImpl, serverImpl: 'ours' as Impl, targets: ['daemon', 'client'] as ('daemon' | 'client')[],
      sample: i % 2 === 0 ? [SMALL] : [BIG],
    })),
    { clientImpl: 'ours', serverImpl: 'real', targets: ['client'], sample: [SMALL] },
  ];
  for (const { clientImpl, serverImpl, targets, sample } of pairs) {
    for (const scenario of FULL ? [BIG, SMALL] : sample) {
      const title = `${clientImpl} client -> ${serverImpl} daemon, ${scenario.name}`;
      // CSYNC2_RELIABILITY_ONLY=text: only the scenarios whose title contains it (their set-up is long).
      if (process.env.CSYNC2_RELIABILITY_ONLY && !title.includes(process.env.CSYNC2_RELIABILITY_ONLY)) continue;
      describe(title, () => {
        let cluster: Cluster;
        let client: TestHost;
        let server: TestHost;
        let version = 0;
        let current = new Map<string, string>();
        let pushMs = 1000;

        before(async () => {
          cluster = await createCluster({ hosts: [{ impl: clientImpl }, { impl: serverImpl }] });
          [client, server] = cluster.hosts as [TestHost, TestHost];
          current = await scenario.write(client, version);
          pushMs = await pushToCompletion();
        });
        after(() => cluster.cleanup());

        /** A clean run: daemon up, `csync2 -xv`, daemon down; must succeed. Returns the client's run time in ms. */
        async function pushToCompletion(): Promise<number> {
          const daemon = await server.startDaemon({ mode: '-ii' });
          const started = Date.now();
          const r = await client.run(['-xv'], { timeoutMs: 300_000 });
          const ms = Date.now() - started;
          await sessionsCommitted(daemon);
          const d = await daemon.stop();
          assert.equal(r.code, 0, `${formatRun(r)}\n--- daemon (${serverImpl}) ---\n${d.stderr.toString('latin1').slice(-6000)}`);
          return ms;
        }

        /**
         * A real daemon's session (a forked child) commits its database after its client has gone;
         * stopping the daemon kills it with the group, and files it wrote without their rows then look
         * like local changes to the next session ("File is also marked dirty here!").
         */
        async function sessionsCommitted(daemon: Daemon): Promise<void> {
          if (serverImpl === 'real') assert.ok(await daemon.sessionsEnded(10_000), 'the real daemon session did not end');
        }

        /** Temp files a killed session left behind a real daemon (csync2 never removes them). */
        let realLeftovers = 0;
        /** Temp files a killed real client left in its own tree. */
        let realClientLeftovers = 0;

        async function checkConverged(): Promise<void> {
          if (serverImpl === 'real') {
            // Not ours to assert: the real daemon leaves `.name.XXXXXX` when its client dies mid-PATCH.
            const left = await tempFilesIn(server.dataDir);
            realLeftovers += left.length;
            for (const rel of left) await server.rm(rel);
          }
          assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot()), []);
          assert.deepEqual(await tempFilesIn(server.dataDir), [], 'temp files left on the receiver');
          assert.deepEqual(await client.dump('dirty'), [], 'still dirty after a successful run');
          assert.ok(await integrityOk(client), 'client database integrity');
          assert.ok(await integrityOk(server), 'server database integrity');
        }

        for (const target of targets) {
          it(`${TRIALS} kills of the ${target} (seed ${SEED})`, async (t: TestContext) => {
            const rng = new Rng(SEED + (target === 'daemon' ? 1 : 2));
            let midTransfer = 0;
            // A kill that came after the push ended (a loaded machine makes the first push slow, the
            // next ones quick) earns up to two more trials, so half of them can still hit a running push.
            let trial = 0;
            for (; trial < TRIALS || (midTransfer < Math.ceil(TRIALS / 2) && trial < 3 * TRIALS); trial++) {
              const old = current;
              version++;
              current = await scenario.write(client, version);
              const check = await client.run(['-cr', client.path('')]);
              assert.equal(check.code, 0, formatRun(check));

              const daemon = await server.startDaemon({ mode: '-ii' });
              const spawned = Date.now();
              const push = client.spawn(['-uv']);
              let endedAt = 0;
              void push.exited.then(() => {
                endedAt = Date.now();
              });
              await sleep(Math.floor(pushMs * (0.05 + 0.8 * rng.next())));
              const stillRunning = push.running;
              if (target === 'daemon') daemon.kill('SIGKILL');
              else push.kill('SIGKILL');
              if (stillRunning) midTransfer++;
              await push.exited;
              // The push was over before the kill: aim the next kills within its real length.
              if (!stillRunning && endedAt > spawned) pushMs = endedAt - spawned;
              if (target === 'client' && clientImpl === 'real') {
                // A real client killed mid-file leaves its own `.name.XXXXXX` (signature or delta) in its
                // tree; its next check would take it for a new file and push it. Not ours to assert.
                const left = await tempFilesIn(client.dataDir);
                realClientLeftovers += left.length;
                for (const rel of left) await client.rm(rel);
              }
              if (target === 'client' && serverImpl === 'ours') {
                // Our daemon ends the session on EOF and must remove its temp file itself.
                const deadline = Date.now() + 5000;
                while ((await tempFilesIn(server.dataDir)).length > 0 && Date.now() < deadline) await sleep(50);
                assert.deepEqual(await tempFilesIn(server.dataDir), [], 'our daemon left a temp file after the client died');
              }
              await sessionsCommitted(daemon);
              await daemon.stop();

              const dirty = new Set((await client.dump('dirty')).map((row) => row[0]!));
              for (const [rel, newSum] of current) {
                const got = await hashOf(server, rel);
                const oldSum = old.get(rel) ?? null;
                assert.ok(got === newSum || got === oldSum, `trial ${trial}: ${rel} on the receiver is neither old nor new`);
                if (got !== newSum) {
                  const name = `%25data%25/${rel.replace(/ /g, '%20')}`;
                  assert.ok(dirty.has(name), `trial ${trial}: ${rel} did not arrive but its dirty row was cleared`);
                }
              }
              await pushToCompletion();
              await checkConverged();
            }
            t.diagnostic(`${midTransfer} of ${trial} kills hit a running push`);
            if (clientImpl === 'real' && target === 'client') t.diagnostic(`the killed real client left ${realClientLeftovers} temp file(s) in its own tree`);
            if (serverImpl === 'real') t.diagnostic(`the real daemon left ${realLeftovers} temp file(s) behind killed sessions`);
            assert.ok(midTransfer >= Math.ceil(TRIALS / 2), `only ${midTransfer} of ${trial} kills came during the push`);
          });
        }
      });
    }
  }
});


