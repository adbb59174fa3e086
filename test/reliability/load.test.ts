/**
 * Load on one `-ii` daemon: slow connections that trickle one byte per second do
 * not stop a legitimate sync, many clients pushing at once all succeed, and the
 * daemon's memory stays bounded (peak RSS from /proc, quoted in the diagnostics).
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import {
  createCluster, diffTrees, formatRun, sleep, type Cluster, type Daemon, type TestHost,
} from '../helpers/index.js';
import { scale } from './scale.js';
import { integrityOk } from './common.js';

const SLOW = scale(200, 200);
const CLIENTS = scale(20, 20);
const FILES_PER_CLIENT = scale(30, 200);
/** Bound on the daemon's peak RSS under this load (a fresh daemon is about 60 MB). */
const RSS_LIMIT_MB = 400;

async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Math.round(Number(m[1]) / 1024);
}

describe('a daemon under load', { concurrency: false }, () => {
  let cluster: Cluster;
  let server: TestHost;
  let clients: TestHost[];
  let daemon: Daemon;

  before(async () => {
    // Host 1 is the server and lists every client; each client's group is itself and the server.
    cluster = await createCluster({
      hosts: Array.from({ length: CLIENTS + 1 }, () => ({ impl: 'ours' as const })),
      configFor: (host, c) => {
        if (host.index === 0) return c.defaultConfig();
        const text = c.defaultConfig();
        const all = c.hostLines();
        return text.replace(all, c.hostLines([c.hosts[0]!, host]));
      },
    });
    [server, ...clients] = cluster.hosts as [TestHost, ...TestHost[]];
    daemon = await server.startDaemon({ mode: '-ii', verbose: 0, lifetimeMs: 0 });
  });
  after(async () => {
    await daemon?.stop();
    await cluster.cleanup();
  });

  it(`${SLOW} connections trickling a byte per second do not stop a sync`, async (t: TestContext) => {
    const sockets: Socket[] = [];
    const from = clients[0]!;
    const trickle = 'CONFIG \n'; // never finished before the test ends
    let timer: NodeJS.Timeout | undefined;
    try {
      for (let i = 0; i < SLOW; i++) sockets.push(await from.connect(server));
      for (const s of sockets) s.on('error', () => { /* the daemon may drop a stalled peer */ });
      let pos = 0;
      timer = setInterval(() => {
        const byte = trickle[pos % (trickle.length - 1)]!;
        pos++;
        for (const s of sockets) if (!s.destroyed) s.write(byte);
      }, 1000);
      await sleep(1500);
      await from.write('slow/legit.txt', 'arrives despite the crowd\n');
      const r = await from.run(['-xv'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, formatRun(r));
      assert.equal((await server.read('slow/legit.txt')).toString(), 'arrives despite the crowd\n');
      const open = sockets.filter((s) => !s.destroyed).length;
      t.diagnostic(`${open} of ${SLOW} slow connections still open after the sync; daemon RSS ${await rssMb(daemon.pid, 'VmRSS')} MB`);
      assert.ok(daemon.running, 'the daemon survived the crowd');
    } finally {
      if (timer) clearInterval(timer);
      for (const s of sockets) s.destroy();
    }
  });

  it(`${CLIENTS} clients pushing at once all succeed; peak RSS stays bounded`, async (t: TestContext) => {
    for (const [i, c] of clients.entries()) {
      for (let f = 0; f < FILES_PER_CLIENT; f++) await c.write(`c${i}/f${f}.txt`, `client ${i} file ${f}\n`.repeat(50));
      await c.write(`c${i}/big.bin`, Buffer.alloc(2 << 20, i));
    }
    const started = Date.now();
    const runs = await Promise.all(clients.map((c) => c.run(['-x'], { timeoutMs: 180_000 })));
    const ms = Date.now() - started;
    for (const r of runs) assert.equal(r.code, 0, formatRun(r));
    for (const [i, c] of clients.entries()) {
      const mine = (await c.treeSnapshot()).filter((e) => e.path.startsWith(`c${i}/`));
      const theirs = (await server.treeSnapshot()).filter((e) => e.path.startsWith(`c${i}/`));
      assert.deepEqual(diffTrees(mine, theirs), [], `client ${i}'s files on the server`);
    }
    assert.ok(await integrityOk(server));
    const peak = await rssMb(daemon.pid, 'VmHWM');
    t.diagnostic(`${CLIENTS} clients x ${FILES_PER_CLIENT + 1} files in ${ms} ms; daemon peak RSS ${peak} MB`);
    assert.ok(peak < RSS_LIMIT_MB, `daemon peak RSS ${peak} MB >= ${RSS_LIMIT_MB} MB`);
  });
});
