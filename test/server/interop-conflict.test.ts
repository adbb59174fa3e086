/**
 * Conflicts against our daemon and a real one (twin.ts): both sides changed a file; every auto-resolve
 * method (decided by the real client, with GETTM/GETSZ and FLUSH answered by the server); a removal
 * that conflicts; slave hosts on either side.
 */
import assert from 'node:assert/strict';
import { readlink } from 'node:fs/promises';
import type { Impl } from '../helpers/index.js';
import { T0, assertClean, getTwinSide, settle, twinTest, type Twin } from './twin.js';

/** The file both sides change: client's version is younger and bigger. */
async function bothChanged(t: Twin): Promise<void> {
  const { client, server } = t;
  await client.write('f.txt', 'base\n');
  await client.write('other.txt', 'untouched\n');
  await settle(client);
  assertClean(await t.sync('base'));
  await client.write('f.txt', 'the client changed this file\n');
  await client.setMtime('f.txt', T0 + 200);
  await server.write('f.txt', 'server side\n');
  await server.setMtime('f.txt', T0 + 100);
}

const WINS: Record<string, boolean> = {
  none: false, first: true, younger: true, older: false, bigger: true, smaller: false, left: true, right: false,
};

for (const [method, clientWins] of Object.entries(WINS)) {
  twinTest(`conflict with auto ${method}: the client ${clientWins ? 'wins' : 'loses'}`, { groupBody: `include %data%;\nauto ${method};` }, async (t) => {
    const { client, server } = t;
    await bothChanged(t);
    const r = await t.sync('conflict');
    const text = r.client.stderr.toString('latin1');
    const content = (await server.read('f.txt')).toString();
    if (clientWins) {
      assert.equal(r.client.code, 0, r.text);
      assert.match(text, /Auto-resolving conflict: Won/, r.text);
      assert.equal(content, 'the client changed this file\n');
      assert.deepEqual(await server.dump('dirty'), [], 'FLUSH dropped the server\'s rows');
    } else {
      assert.equal(r.client.code, 1, r.text);
      assert.match(text, /Finished with 1 errors\./, r.text);
      assert.equal(content, 'server side\n', 'the server keeps its version');
      assert.deepEqual((await server.dump('dirty')).map((row) => row[0]), ['%25data%25/f.txt'],
        'the server marked its version dirty for the client');
      assert.deepEqual((await client.dump('dirty')).map((row) => row[0]), ['%25data%25/f.txt'], 'the client keeps its row');
    }
    await t.snapshot('after');
  });
}

// Under a prefix csync2 records a symlink's target as empty (it reads the link at the unprefixed
// name), so a link changed on both sides and marked by hand is "already up to date on peer"; the
// entries behind the links (whose create commands no longer hold later jobs back) go on.
twinTest('symlinks changed on both sides under a prefix look equal; the entries behind them arrive', { groupBody: 'include %data%;\nauto first;' }, async (t) => {
  const { client, server } = t;
  await client.write('a/x.txt', 'x\n');
  await client.symlink('x.txt', 'a/link');
  await client.symlink('x.txt', 'a/link2');
  await client.write('a/z.txt', 'z\n');
  await settle(client);
  assertClean(await t.sync('base'));
  for (const link of ['a/link', 'a/link2']) {
    await client.rm(link);
    await client.symlink('./z.txt', link);
    await server.rm(link);
    await server.symlink('elsewhere-on-the-server', link);
    for (const h of [client, server]) assert.equal((await h.run(['-m', h.path(link)])).code, 0);
  }
  await client.write('a/y.txt', 'new after the links\n');
  await client.write('a/z.txt', 'z changed\n');
  const r = await t.sync('changed');
  assert.equal(r.client.code, 0, r.text);
  assert.equal(r.client.stderr.toString('latin1').split('File is already up to date on peer.').length - 1, 2, r.text);
  assert.equal((await server.read('a/y.txt')).toString(), 'new after the links\n', 'later entries arrived');
  for (const link of ['a/link', 'a/link2']) assert.equal(await readlink(server.path(link)), 'elsewhere-on-the-server', link);
  await t.snapshot('after');
});

// A removal that no auto-resolve can send again lets the removals after it (its parent directories)
// go on before its reply; with `first` it may be sent again and they wait. Both end as csync2's run.
for (const method of ['none', 'first']) {
  twinTest(`a removed tree with a conflicting file inside: auto ${method}`, { groupBody: `include %data%;\nauto ${method};` }, async (t) => {
    const { client, server } = t;
    for (const f of ['d/sub/f1.txt', 'd/sub/f2.txt', 'd/g.txt']) await client.write(f, `${f}\n`);
    await settle(client);
    assertClean(await t.sync('base'));
    await client.rm('d');
    await server.write('d/sub/f1.txt', 'changed on the server\n');
    const r = await t.sync('removal');
    assert.equal(r.client.code, method === 'first' ? 0 : 1, r.text);
    assert.equal(await server.stat('d/sub/f2.txt'), null, 'the removal without a conflict went through');
    if (method === 'first') assert.equal(await server.stat('d'), null, 'won: the whole tree went');
    else assert.equal((await server.read('d/sub/f1.txt')).toString(), 'changed on the server\n');
    await t.snapshot('removal');
  });
}

twinTest('a removal that conflicts: younger cannot decide, first wins', { groupBody: 'include %data%;\nauto younger;' }, async (t) => {
  const { client, server } = t;
  await client.write('r.txt', 'base\n');
  await settle(client);
  assertClean(await t.sync('base'));
  await client.rm('r.txt');
  await server.write('r.txt', 'changed on the server\n');
  const r = await t.sync('removal');
  assert.match(r.client.stderr.toString('latin1'), /This is a removal/, r.text);
  assert.equal((await server.read('r.txt')).toString(), 'changed on the server\n');
  await t.snapshot('removal');

  await t.client.writeConfig(t.cluster.defaultConfig({ groupBody: 'include %data%;\nauto first;' }));
  const r2 = await t.sync('first', ['-uv']);
  assert.equal(r2.client.code, 0, r2.text);
  assert.equal(await server.stat('r.txt'), null, 'the forced DEL went through');
  await t.snapshot('first');
});

twinTest('a slave server receives from its master', { hosts: (impl: Impl) => [{ impl: 'real' }, { impl, slave: true }] }, async (t) => {
  await t.client.write('to-slave.txt', 'from the master\n');
  await settle(t.client);
  assertClean(await t.sync('push'));
  assert.equal((await t.server.read('to-slave.txt')).toString(), 'from the master\n');
  await t.snapshot('push');
});

twinTest('a slave client is refused and the master marks its own version dirty',
  { hosts: (impl: Impl) => [{ impl: 'real', slave: true }, { impl }] }, async (t) => {
    const { client, server } = t;
    await server.write('s.txt', 'master copy\n');
    await client.write('s.txt', 'slave copy\n');
    await client.write('new-on-slave.txt', 'slave only\n');
    await settle(client);
    await settle(server);
    const r = await t.sync('push');
    assert.equal(r.client.code, 1, r.text);
    assert.equal((await server.read('s.txt')).toString(), 'master copy\n');
    assert.equal(await server.stat('new-on-slave.txt'), null);
    const dirty = await server.dump('dirty');
    assert.ok(dirty.some(([f, , , peer]) => f === '%25data%25/s.txt' && peer === client.name), JSON.stringify(dirty));
    await t.snapshot('push');
  });

// A file pushed over the server's directory that holds a file the client never knew: the unlink
// step's rmdir fails, and the daemon reports the errno it left ('Directory not empty') when the
// path is no regular file, replying `octet-stream -1` (the real client would wait forever there:
// ours is the client, so the scenario runs only where the daemon is the side switched).
if (getTwinSide() === 'server') twinTest('a file over a non-empty directory: the daemon logs the unlink step\'s errno', {
  groupBody: 'include %data%;\nauto first;',
  hosts: (impl: Impl) => [{ impl: 'ours' }, { impl }],
}, async (t) => {
  const { client, server } = t;
  await client.write('d/x', 'x\n');
  await settle(client);
  assertClean(await t.sync('base'));
  await client.rm('d');
  await client.write('d', 'now a file\n');
  await server.write('d/y', 'only on the server\n');
  const r = await t.sync('over');
  assert.notEqual(r.client.code, 0, r.text);
  // -iii prints its session's lines with a `<pid> ` prefix.
  const logged = r.server.stderr.toString('latin1').split('\n').map((l) => l.replace(/^<\d+> /, '')).filter((l) => l.startsWith('I/O Error'));
  assert.deepEqual(logged.map((l) => l.replace(/: .*$/, '')), ["I/O Error 'Directory not empty' in rsync-sig"], r.text);
  t.note('over.daemonErrors', logged);
  assert.equal((await server.read('d/y')).toString(), 'only on the server\n', 'the directory stays');
  // Not the tree: csync2's patch made (and removed) a temp file beside the directory (the root's mtime).
  t.note('after.file', await server.dump('file'));
  t.note('after.dirty', await client.dump('dirty'));
});
