/**
 * Client behaviour beyond the file scenarios, as twin runs with the CLIENT switched (ours against the
 * real csync2, both pushing to a real daemon): dry run lines, file and -P filters (with the prefix
 * quirk), a peer that is down among three hosts, a slave among three hosts, the "Parent dir missing."
 * recovery, -v messages of a many-file push (pipelining must not change what is printed), and many
 * files in many directories (the pipelined path with directory times set after their contents).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { diffTrees, syncOnce, type TestHost } from '../helpers/index.js';
import type { Impl } from '../helpers/index.js';
import { T0, assertClean, setTwinSide, settle, twinTest, type Twin } from '../server/twin.js';

setTwinSide('client');

function lines(b: Buffer): string[] {
  return b.toString('latin1').split('\n').filter((l) => l !== '');
}

/** Debug lines of the database layer, which we word differently at -vv, and GnuTLS's own at -vv (ours is OpenSSL). */
const DB_TRACE = /^(SQL|Opening shared library|Reading symbols from shared library|added \d+ protocols|Keeping ciphersuite|Advertizing version|EXT\[0x[0-9a-f]+\]: )/;

/** A round with any args; stdout, stderr (without database traces) and codes recorded. */
async function round(t: Twin, key: string, args: string[], to: TestHost | TestHost[] = t.server) {
  const r = await syncOnce(t.client, to, args);
  // Peer names differ in length between the twin clusters: the %-15s padding is checked apart.
  const stdout = lines(r.client.stdout).map((l) => l.replace(/^([?!][MDS]: \S+) +/, '$1 '));
  t.note(key, { code: r.client.code, stdout, stderr: lines(r.client.stderr).filter((l) => !DB_TRACE.test(l)) });
  return r;
}

twinTest('dry run: ?M, ?D, ?S and !M lines; rows kept except for files already in sync', {}, async (t) => {
  const { client } = t;
  await client.write('same.txt', 'same\n');
  await client.write('changed.txt', 'one\n');
  await client.write('gone.txt', 'gone\n');
  await client.write('forced.txt', 'forced\n');
  await settle(client);
  assertClean(await t.sync('first'));

  await client.write('changed.txt', 'two two\n');
  await client.rm('gone.txt');
  await client.write('new.txt', 'new\n');
  await client.write('forced.txt', 'forced 2\n');
  await settle(client, T0 + 9);
  assert.equal((await client.run(['-cr', '/'])).code, 0);
  assert.equal((await client.run(['-m', client.path('same.txt')])).code, 0);
  assert.equal((await client.run(['-f', client.path('forced.txt')])).code, 0);
  const r = await round(t, 'dry', ['-u', '-d']);
  assert.equal(r.client.code, 0, r.text);
  const out = lines(r.client.stdout);
  assert.ok(out.some((l) => /^\?M: \S+ +%data%\/changed\.txt$/.test(l)), r.text);
  assert.ok(out.some((l) => /^\?D: \S+ +%data%\/gone\.txt$/.test(l)), r.text);
  assert.ok(out.some((l) => /^\?S: \S+ +%data%\/same\.txt$/.test(l)), r.text);
  assert.ok(out.some((l) => /^!M: \S+ +%data%\/forced\.txt$/.test(l)), r.text);
  for (const l of out) assert.equal(/^..: (\S+ *) %data%/.exec(l)?.[1]?.length, Math.max(15, t.server.name.length), l);
  t.note('dry.client-dirty', await client.dump('dirty'));
  await t.snapshot('dry');
});

twinTest('file arguments and -P: the prefix quirk, exact names, -r, peers by name', {}, async (t) => {
  const { client, server } = t;
  await client.write('a/one.txt', '1\n');
  await client.write('a/two.txt', '2\n');
  await client.write('b.txt', 'b\n');
  await settle(client);
  assert.equal((await client.run(['-cr', '/'])).code, 0);
  // Real paths never match prefix-encoded rows: nothing is sent, everything stays dirty.
  await round(t, 'real-path', ['-uv', client.path('a/one.txt')]);
  t.note('real-path.dirty', await client.dump('dirty'));
  // A -P list without this peer: nobody is contacted.
  await round(t, 'other-peer', ['-uv', '-P', 'nobody,else']);
  t.note('other-peer.dirty', await client.dump('dirty'));
  // The peer by name, upper-cased: matched case-insensitively.
  const r = await round(t, 'peer', ['-uv', '-P', `x,${server.name.toUpperCase()}`]);
  assertClean(r);
  assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot()), []);
  await t.snapshot('peer');
});

twinTest('three hosts, one down: the error names it, its rows stay, the other peer is served',
  { hosts: (impl: Impl) => [{ impl }, { impl: 'real' }, { impl: 'real' }] }, async (t) => {
    const { client } = t;
    const [, up, down] = t.cluster.hosts as [TestHost, TestHost, TestHost];
    await client.write('x/f.txt', 'f\n');
    await client.write('g.txt', 'g\n');
    await settle(client);
    const r = await round(t, 'push', ['-xv'], up);
    assert.equal(r.client.code, 1, r.text);
    assert.match(r.client.stderr.toString('latin1'), new RegExp(`ERROR: Connection to remote host \`${down.name.replace(/\./g, '\\.')}' failed\\.`));
    assert.deepEqual(diffTrees(await client.treeSnapshot(), await up.treeSnapshot()), []);
    t.note('dirty', await client.dump('dirty'));
    t.note('up.file', await up.dump('file'));
  });

twinTest('three hosts with a slave: the master pushes to both',
  { hosts: (impl: Impl) => [{ impl }, { impl: 'real' }, { impl: 'real', slave: true }] }, async (t) => {
    const { client } = t;
    const [, peer, slave] = t.cluster.hosts as [TestHost, TestHost, TestHost];
    await client.write('d/e/f.txt', 'deep\n');
    await client.write('top.txt', 'top\n');
    await client.symlink('top.txt', 'link');
    await settle(client);
    const r = await round(t, 'push', ['-xv'], [peer, slave]);
    assertClean(r);
    for (const h of [peer, slave]) assert.deepEqual(diffTrees(await client.treeSnapshot(), await h.treeSnapshot()), []);
    t.note('dirty', await client.dump('dirty'));
    t.note('slave.file', await slave.dump('file'));
    t.note('slave.dirty', await slave.dump('dirty'));
  });

twinTest('a directory lost on the peer: "Parent dir missing." re-marks the subtree and the walk starts over', {}, async (t) => {
  const { client, server } = t;
  await client.write('sub/deeper/a.txt', 'a\n');
  await client.write('sub/b.txt', 'b\n');
  await client.write('z.txt', 'z\n');
  await settle(client);
  assertClean(await t.sync('first'));
  await server.rm('sub');
  await client.write('sub/deeper/a.txt', 'a changed\n');
  await settle(client, T0 + 20);
  const r = await round(t, 'second', ['-xv']);
  t.note('second.client-dirty', await client.dump('dirty'));
  await t.snapshot('second');
  // Then once more: whatever csync2 left over is delivered now.
  const r3 = await round(t, 'third', ['-xv']);
  await t.snapshot('third');
  void r; void r3;
});

twinTest('many files in many directories at -v: the same messages in the same order', { timeout: 180_000 }, async (t) => {
  const { client, server } = t;
  for (let d = 0; d < 12; d++) {
    for (let f = 0; f < 25; f++) await client.write(`dir${d}/sub${f % 3}/file${f}.txt`, `content ${d} ${f}\n`.repeat(f + 1));
  }
  await settle(client);
  assert.equal((await client.run(['-cr', '/'])).code, 0);
  const r = await round(t, 'push', ['-uv']);
  assert.equal(r.client.code, 0, r.text);
  assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot()), []);
  await t.snapshot('push');
  // Change some, remove a directory, add one: the second round is compared too.
  for (let f = 0; f < 25; f += 5) await client.write(`dir3/sub${f % 3}/file${f}.txt`, 'changed\n');
  await client.rm('dir7');
  await client.write('dir12/new.txt', 'new\n');
  await settle(client, T0 + 30);
  assert.equal((await client.run(['-cr', '/'])).code, 0);
  await round(t, 'second', ['-uv']);
  await t.snapshot('second');
});

twinTest('-vv: where the signatures differ, for local files much smaller and bigger than the peer\'s', {}, async (t) => {
  const { client, server } = t;
  // Signatures of 32 and 552 bytes (and the reverse): the comparison runs past the end of the shorter one.
  await client.write('shrunk.txt', 'x'.repeat(53_000));
  await client.write('grown.txt', 'y'.repeat(600));
  await client.write('same-size.txt', 'z'.repeat(9_000));
  await settle(client);
  assertClean(await t.sync('first'));
  await client.write('shrunk.txt', 'x'.repeat(600));
  await client.write('grown.txt', 'y'.repeat(53_000));
  await client.write('same-size.txt', 'z'.repeat(4_000) + 'Z' + 'z'.repeat(4_999));
  await settle(client, T0 + 9);
  assert.equal((await client.run(['-cr', '/'])).code, 0);
  const r = await round(t, 'vv', ['-uvv']);
  assert.equal(r.client.code, 0, r.text);
  assert.match(r.client.stderr.toString('latin1'), /Found EOF in local sig file\./);
  assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot()), []);
  await t.snapshot('vv');
});

twinTest('actions on the sending host: do-local runs there too, do-local-only only there, once per command with %%', {
  configFor: (host, c) => c.defaultConfig({
    groupBody: host.index !== 0 ? 'include %data%;' : 'include %data%;\n'
      + `action {\n  pattern %data%/act/*;\n  exec "echo local: %%";\n  logfile ${host.root}/local.log;\n  do-local;\n}\n`
      + `action {\n  pattern %data%/only/*;\n  exec "sh -c 'echo only: %% ca=$NODE_EXTRA_CA_CERTS'";\n`
      + `  logfile ${host.root}/only.log;\n  do-local-only;\n}\n`
      + `action {\n  pattern %data%/remote/*;\n  exec "echo never here";\n  logfile ${host.root}/remote.log;\n}`,
  }),
}, async (t) => {
  const { client, server } = t;
  await client.write('act/a.txt', 'a\n');
  await client.write('act/b c.txt', 'b c\n');
  await client.write('only/x', 'x\n');
  await client.write('remote/y', 'y\n');
  await client.write('other.txt', 'not matched\n');
  await settle(client);
  // The environment reaches the actions as it was (bin/csync2 starts node without this variable).
  const r = await syncOnce(client, server, ['-xv'], { env: { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' } });
  assertClean(r);
  const logOf = async (name: string): Promise<string[] | null> => {
    const text = await readFile(`${client.root}/${name}`, 'latin1').catch(() => null);
    return text === null ? null : text.split('\n').filter((l) => l !== '');
  };
  const local = await logOf('local.log');
  const only = await logOf('only.log');
  t.note('local.log', local);
  t.note('only.log', only);
  assert.equal(local?.length, 1, 'one run for both files');
  assert.match(local![0]!, /^local: .*act\/b%20c\.txt .*act\/a\.txt$|^local: .*act\/a\.txt .*act\/b%20c\.txt$/);
  assert.deepEqual(only?.length, 1);
  assert.match(only![0]!, /only\/x ca=\/etc\/ssl\/certs\/ca-certificates\.crt$/);
  assert.equal(await logOf('remote.log'), null, 'an action without do-local does not run on the sender');
  assert.deepEqual(await client.dump('action'), [], 'the rows are gone once run');
  await t.snapshot('push');
});
