/**
 * Peers served at once (src/sync/update.ts: a push of more than 256 rows) against csync2's
 * one-after-the-other: when the first peer served is missing a file's directory, csync2 marks that directory's files dirty for every
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
  /** The client's -v lines, hosts named CLIENT, FIRST and SECOND (csync2's order). */
  lines: string[];
}

async function scenario(clientImpl: Impl, lacking: 'first' | 'second', size: 'big' | 'small' = 'big'): Promise<Outcome> {
  const c = await createCluster({ hosts: [{ impl: clientImpl }, { impl: 'real' }, { impl: 'real' }] });
  clusters.push(c);
  const [client, p1, p2] = c.hosts as [TestHost, TestHost, TestHost];
  // The bulk files make the second push big enough to be served at once (update.ts SMALL_PUSH_ROWS).
  const bulk = Array.from({ length: size === 'big' ? 150 : 0 }, (_, i) => `bulk/f${String(i).padStart(3, '0')}`);
  for (const rel of ['d/x.txt', 'd/y.txt', 'd/e/z.txt', 'top.txt', ...bulk]) await client.write(rel, `${rel}\n`);
  const first = await syncOnce(client, [p1, p2], ['-xv']);
  assert.equal(first.client.code, 0, first.text);
  // csync2 serves the peers in the reverse of its GROUP BY order: the higher address first.
  const servedFirst = p1.name > p2.name ? p1 : p2;
  const servedSecond = servedFirst === p1 ? p2 : p1;
  await (lacking === 'first' ? servedFirst : servedSecond).rm('d');
  await client.write('d/x.txt', 'changed on the client, a new size\n');
  await client.write('top.txt', 'changed too\n');
  for (const rel of bulk) await client.write(rel, `${rel} changed\n`);
  const check = await client.run(['-cr', client.path('')]);
  assert.equal(check.code, 0, check.stderr.toString());
  const [[rows]] = await client.sql('SELECT count(*) FROM dirty') as [[string]];
  assert.ok(size === 'big' ? Number(rows) > 256 : Number(rows) <= 256, `${rows} dirty rows for a ${size} push`);
  const r = await syncOnce(client, [p1, p2], ['-xv']);
  const names = (h: TestHost): string => h === servedFirst ? 'FIRST' : 'SECOND';
  const named = (line: string): string => line.split(`:${c.port}`).join(':PORT').split(client.name).join('CLIENT')
    .split(p1.name).join(names(p1)).split(p2.name).join(names(p2)).replace(/\b[0-9A-F]{200,}\b/g, 'CERT');
  return {
    code: r.client.code,
    text: r.text,
    clientDirty: (await client.dump('dirty'))
      .map((row) => row.map((v) => v.replace(client.name, 'CLIENT').replace(p1.name, names(p1)).replace(p2.name, names(p2)))).sort(),
    peerTrees: await Promise.all([servedFirst, servedSecond].map(async (h) =>
      (await h.treeSnapshot()).filter((e) => e.type !== 'dir').map((e) => `${e.path} ${e.hash ?? ''}`))),
    lines: r.client.stderr.toString('latin1').split('\n').filter((l) => l !== '').map(named),
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

test('a small push serves the peers one after the other: a missing directory gives csync2\'s lines and rows', async () => {
  for (const lacking of ['first', 'second'] as const) {
    const [real, ours] = await Promise.all([scenario('real', lacking, 'small'), scenario('ours', lacking, 'small')]);
    assert.match(real.text, /missing parent dir : %data%\/d/, `the ${lacking} peer lacked the directory`);
    assert.deepEqual(ours.lines, real.lines, lacking);
    assert.equal(ours.code, real.code);
    assert.deepEqual(ours.clientDirty, real.clientDirty, lacking);
    assert.deepEqual(ours.peerTrees, real.peerTrees, lacking);
  }
});
