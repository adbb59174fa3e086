/**
 * Peers served at once (src/sync/update.ts) against csync2's one-after-the-other: when the first
 * peer served is missing a file's directory, csync2 marks that directory's files dirty for every
 * peer of the group, and the peer served after it reads its rows only then, so it walks them in
 * the same run. Ours read its rows at the start; it gets a late walk of those rows. The outcome
 * (trees, the client's dirty table, exit code) is the real client's; the late walk's lines come
 * after the others. A later peer's missing directory marks rows for the peers before it, which
 * csync2 had finished: those rows stay dirty for them.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createCluster, syncOnce, type Cluster, type Impl, type TestHost } from '../helpers/index.js';

const clusters: Cluster[] = [];
after(() => Promise.all(clusters.map((c) => c.cleanup())));

interface Outcome {
  code: number | null;
  text: string;
  clientDirty: string[][];
  peerTrees: string[][];
}

async function scenario(clientImpl: Impl, lacking: 'first' | 'second'): Promise<Outcome> {
  const c = await createCluster({ hosts: [{ impl: clientImpl }, { impl: 'real' }, { impl: 'real' }] });
  clusters.push(c);
  const [client, p1, p2] = c.hosts as [TestHost, TestHost, TestHost];
  for (const rel of ['d/x.txt', 'd/y.txt', 'd/e/z.txt', 'top.txt']) await client.write(rel, `${rel}\n`);
  const first = await syncOnce(client, [p1, p2], ['-xv']);
  assert.equal(first.client.code, 0, first.text);
  // csync2 serves the peers in the reverse of its GROUP BY order: the higher address first.
  const servedFirst = p1.name > p2.name ? p1 : p2;
  const servedSecond = servedFirst === p1 ? p2 : p1;
  await (lacking === 'first' ? servedFirst : servedSecond).rm('d');
  await client.write('d/x.txt', 'changed on the client, a new size\n');
  await client.write('top.txt', 'changed too\n');
  const r = await syncOnce(client, [p1, p2], ['-xv']);
  const names = (h: TestHost): string => h === servedFirst ? 'FIRST' : 'SECOND';
  return {
    code: r.client.code,
    text: r.text,
    clientDirty: (await client.dump('dirty'))
      .map((row) => row.map((v) => v.replace(client.name, 'CLIENT').replace(p1.name, names(p1)).replace(p2.name, names(p2)))).sort(),
    peerTrees: await Promise.all([servedFirst, servedSecond].map(async (h) =>
      (await h.treeSnapshot()).filter((e) => e.type !== 'dir').map((e) => `${e.path} ${e.hash ?? ''}`))),
  };
}

test('a peer served at once still walks the rows an earlier peer\'s missing directory marked for it', async () => {
  const [real, ours] = await Promise.all([scenario('real', 'first'), scenario('ours', 'first')]);
  assert.match(real.text, /missing parent dir : %data%\/d/, 'the first peer lacked the directory');
  // The first peer's daemon finds its directory gone and refuses it (a conflict there); the second
  // peer walks the whole directory in the same run.
  assert.equal(real.text.split('Updating %data%/d/y.txt on ').length - 1, 2, real.text);
  assert.match(ours.text, /missing parent dir : %data%\/d/, ours.text);
  assert.equal(ours.code, real.code, ours.text);
  assert.deepEqual(ours.clientDirty, real.clientDirty, ours.text);
  assert.ok(!real.clientDirty.some((row) => row.includes('SECOND')), 'no row left for the second peer');
  assert.deepEqual(ours.peerTrees, real.peerTrees);
});

test('the marks of a later peer\'s missing directory stay dirty for the peers served before it', async () => {
  const [real, ours] = await Promise.all([scenario('real', 'second'), scenario('ours', 'second')]);
  assert.match(real.text, /missing parent dir : %data%\/d/, 'the second peer lacked the directory');
  // csync2 marks the directory's files once the first peer is done: they stay dirty for it, the
  // changed file too, though the first peer took it (ours may have walked it after the mark).
  assert.ok(real.clientDirty.some((row) => row[0] === '%25data%25/d/x.txt' && row.includes('FIRST')), JSON.stringify(real.clientDirty));
  assert.match(ours.text, /missing parent dir : %data%\/d/, ours.text);
  assert.equal(ours.code, real.code, ours.text);
  assert.deepEqual(ours.clientDirty, real.clientDirty, ours.text);
  assert.deepEqual(ours.peerTrees, real.peerTrees);
});
