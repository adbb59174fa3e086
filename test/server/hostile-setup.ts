/**
 * Shared set-up of the hostile-peer tests: a cluster with a real csync2 client (host 1), our
 * daemon (host 2, `-ii`, TLS on) and a third configured host; on the server a tree with a
 * directory symlink leading out of it (`escape -> ../outside`), a file symlink to a file outside,
 * an excluded directory; and the bookkeeping of cases (each refused or handled safely) for the
 * summary line in the TAP output.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createCluster, diffTrees, treeSnapshot, type Cluster, type Daemon, type TestHost, type TreeSnapshot,
} from '../helpers/index.js';
import { RawPeer, exchange } from './raw.js';

export const F = (rel: string): string => `%25data%25/${rel}`;
export const DENIED = 'Permission denied!';
export const OK = 'OK (cmd_finished).';

export interface Hostile {
  cluster: Cluster;
  client: TestHost;
  server: TestHost;
  third: TestHost;
  daemon: Daemon;
  key: string;
  /** Everything of the cluster outside the server's and the client's data and database (see outsideOf). */
  outsideBefore: TreeSnapshot;
  /** Cases run and how many were refused or handled safely. */
  counts: { run: number; safe: number };
  /** CONFIG + HELLO as the client host, over TLS. */
  session(): Promise<RawPeer>;
  /** One case: send lines, compare replies, count it. */
  expect(title: string, lines: string[], replies: (string | null)[], peer?: RawPeer): Promise<void>;
  /** The daemon's log so far. */
  log(): string;
  outsideNow(): Promise<TreeSnapshot>;
  cleanup(): Promise<void>;
}

/** Everything of the cluster but the server's tree and database and the client's (which the tests change themselves). */
const outsideOf = (root: string) => treeSnapshot(root, { exclude: (p) => ['h1/data', 'h1/db', 'h2/data', 'h2/db'].includes(p) });

export async function hostileSetup(): Promise<Hostile> {
  const cluster = await createCluster({
    hosts: [{ impl: 'real' }, { impl: 'ours' }, { impl: 'real' }],
    groupBody: 'include %data%;\nexclude %data%/excluded;',
  });
  const [client, server, third] = cluster.hosts as [TestHost, TestHost, TestHost];
  const outside = join(server.root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'victim.txt'), 'outside the tree\n', { mode: 0o644 });
  await server.write('inside.txt', 'inside\n', 0o644);
  await server.write('sub/deeper.txt', 'deeper\n', 0o644);
  await server.write('excluded/keep.txt', 'excluded\n', 0o644);
  await symlink('../outside', server.path('escape'));
  await symlink(join(outside, 'victim.txt'), server.path('victim-link'));
  // The server knows its tree (file rows, no dirty rows), as after an earlier sync.
  const init = await server.run(['-cIr', server.path('')]);
  assert.equal(init.code, 0, init.stderr.toString('latin1'));
  const daemon = await server.startDaemon({ mode: '-ii', verbose: 1 });
  const key = cluster.key.trim();
  const counts = { run: 0, safe: 0 };
  const h: Hostile = {
    cluster, client, server, third, daemon, key, counts,
    outsideBefore: await outsideOf(cluster.root),
    async session() {
      const peer = await RawPeer.open(client, server, { tls: true });
      assert.deepEqual(await exchange(peer, ['CONFIG ', `HELLO ${client.name}`]), [OK, OK]);
      return peer;
    },
    async expect(title, lines, replies, given) {
      counts.run += lines.length;
      const peer = given ?? await h.session();
      try {
        const got = await exchange(peer, lines);
        assert.deepEqual(got, replies, `${title}: replies`);
        assert.ok(h.daemon.running, `${title}: the daemon died`);
        counts.safe += lines.length;
      } finally {
        if (!given) peer.destroy();
      }
    },
    log: () => h.daemon.stderr().toString('latin1'),
    outsideNow: () => outsideOf(cluster.root),
    cleanup: () => cluster.cleanup(),
  };
  return h;
}

/** Nothing outside the server's data and database changed, and the daemon still serves a real client. */
export async function assertStillServing(h: Hostile, tag: string): Promise<void> {
  assert.deepEqual(diffTrees(h.outsideBefore, await h.outsideNow(), { dirMtime: true }), [], 'something outside the tree changed');
  assert.ok(h.daemon.running, 'the daemon is still running');
  await h.client.write(`${tag}.txt`, `after the hostile peers (${tag})\n`);
  const r = await h.client.run(['-xv', '-P', h.server.name]);
  assert.equal(r.code, 0, r.stderr.toString('latin1') + '\n--- daemon ---\n' + h.log());
  assert.equal((await h.server.read(`${tag}.txt`)).toString(), `after the hostile peers (${tag})\n`);
}
