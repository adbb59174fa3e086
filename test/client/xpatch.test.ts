/**
 * XPATCH (src/protocol/replies.ts) from our client: offered in the TLS handshake,
 * used with our daemon, never with a real one (which ignores the offer: its
 * conversation is csync2's own), never at -vvv. With it or without it
 * (CSYNC2_TS_NO_EXTENSIONS=1) a push has the same outcome: messages, exit code,
 * trees, databases, conflicts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createCluster, diffTrees, syncOnce, type Cluster, type Impl, type SyncResult, type TestHost } from '../helpers/index.js';

const T0 = 1_700_000_000;
const HUGE = randomBytes(3_000_000);

interface Outcome {
  /** Client stderr lines of both pushes, host names, port and certificate normalized. */
  firstLines: string[];
  conflictLines: string[];
  first: SyncResult;
  conflict: SyncResult;
  daemonLog: string;
  tree: ReturnType<typeof diffTrees>;
  clientDirty: string[][];
  serverFiles: string[][];
}

/** Seven files (new, big, empty, nested), a push; then one changed on both sides, the others on the client. */
async function scenario(cluster: Cluster, serverImpl: Impl, env: Record<string, string | undefined>): Promise<Outcome> {
  const [client, server] = cluster.hosts as [TestHost, TestHost];
  const files: [string, Buffer][] = [
    ['a.txt', Buffer.from('alpha\n')],
    ['empty.txt', Buffer.alloc(0)],
    ['d/e/nested.txt', Buffer.from('nested\n')],
    ['big.bin', Buffer.alloc(300_000, 0x5a)],
    ['mid.bin', Buffer.alloc(20_000, 0x33)],
    ['sp ace%.txt', Buffer.from('odd name\n')],
    ['z.txt', Buffer.from('zulu\n')],
    // Above 1 MiB: its change goes by XPATCHS (extensions version 2), the delta streamed in chunks.
    ['huge.bin', HUGE],
  ];
  for (const [rel, content] of files) {
    await client.write(rel, content, 0o640);
    await client.setMtime(rel, T0);
  }
  assert.equal((await client.run(['-cr', '/'])).code, 0);
  const first = await syncOnce(client, server, ['-uv'], { serverImpl, daemonVerbose: 3, env });

  await client.write('a.txt', 'alpha changed on the client\n');
  await server.write('a.txt', 'alpha changed on the server\n');
  await client.write('mid.bin', Buffer.alloc(20_000, 0x34));
  await client.write('z.txt', 'zulu 2\n');
  const huge = Buffer.from(HUGE);
  for (const at of [5, 1_000_000, 2_999_000]) huge.fill(0x42, at, at + 700);
  await client.write('huge.bin', huge);
  for (const rel of ['a.txt', 'mid.bin', 'z.txt', 'huge.bin']) await client.setMtime(rel, T0 + 5);
  await server.setMtime('a.txt', T0 + 7);
  assert.equal((await client.run(['-cr', '/'])).code, 0);
  const conflict = await syncOnce(client, server, ['-uv'], { serverImpl, daemonVerbose: 3, env });
  const norm = (b: Buffer): string[] => clientLines(b, client, server);
  return {
    firstLines: norm(first.client.stderr), conflictLines: norm(conflict.client.stderr),
    first, conflict,
    daemonLog: first.server.stderr.toString('latin1') + conflict.server.stderr.toString('latin1'),
    tree: diffTrees(await client.treeSnapshot(), await server.treeSnapshot()),
    clientDirty: (await client.dump('dirty')).map((r) => r.map((v) => v.replaceAll(client.name, 'CLIENT').replaceAll(server.name, 'SERVER'))),
    serverFiles: await server.dump('file'),
  };
}

function lines(b: Buffer): string[] {
  return b.toString('latin1').split('\n').filter((l) => l !== '');
}

/** A client's lines with host names, port and certificate made comparable between clusters. */
function clientLines(b: Buffer, client: TestHost, server: TestHost): string[] {
  return lines(b).map((l) => l.replaceAll(client.name, 'CLIENT').replaceAll(server.name, 'SERVER')
    .replace(/:\d+ \(SERVER\)/, ':PORT (SERVER)').replace(/[0-9A-F]{200,}/, 'CERT'));
}

describe('XPATCH from our client', () => {
  const clusters: Cluster[] = [];
  after(() => Promise.all(clusters.map((c) => c.cleanup())));

  async function run(serverImpl: Impl, env: Record<string, string | undefined> = {}): Promise<Outcome> {
    const c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: serverImpl }] });
    clusters.push(c);
    return scenario(c, serverImpl, env);
  }

  it('with our daemon: used, and the outcome equals a push without it', async () => {
    const [withIt, without] = await Promise.all([run('ours'), run('ours', { CSYNC2_TS_NO_EXTENSIONS: '1' })]);
    assert.match(withIt.daemonLog, /XPATCHA /, 'the daemon saw XPATCHA (XPATCH with the attributes, version 5)');
    assert.match(withIt.daemonLog, /XPATCHS /, 'and XPATCHS for the big changed file');
    assert.doesNotMatch(without.daemonLog, /XPATCH/, 'nothing of it when turned off');
    assert.equal(withIt.first.client.code, 0, withIt.first.text);
    assert.deepEqual(withIt.firstLines, without.firstLines);
    // The conflict: a.txt stays dirty, one error; the other two arrive.
    assert.equal(withIt.conflict.client.code, without.conflict.client.code, withIt.conflict.text);
    assert.notEqual(withIt.conflict.client.code, 0);
    assert.deepEqual(withIt.conflictLines, without.conflictLines);
    assert.match(withIt.conflict.client.stderr.toString(), /File stays in dirty state/);
    assert.deepEqual(withIt.tree, without.tree);
    assert.deepEqual([...new Set(withIt.tree.map((d) => d.slice(0, d.indexOf(':'))))], ['"a.txt"'], 'only the conflicting file differs');
    assert.deepEqual(withIt.clientDirty, without.clientDirty);
    assert.deepEqual(withIt.serverFiles.map((r) => r[0]), without.serverFiles.map((r) => r[0]));
  });

  it('with a real daemon: the conversation is csync2\'s own, and so is the outcome', async () => {
    const [withIt, without] = await Promise.all([run('real'), run('real', { CSYNC2_TS_NO_EXTENSIONS: '1' })]);
    assert.equal(withIt.first.client.code, 0, withIt.first.text);
    assert.doesNotMatch(withIt.daemonLog, /XPATCH|Unknown command/);
    const commands = (log: string): string[] => log.split('\n').filter((l) => / Peer> /.test(l) || /^Peer> /.test(l))
      .map((l) => l.replace(/^.*Peer> /, '').split(' ')[0]!);
    assert.ok(commands(withIt.daemonLog).includes('PATCH'), `the real daemon's wire dump: ${withIt.daemonLog.slice(0, 2000)}`);
    assert.deepEqual(commands(withIt.daemonLog), commands(without.daemonLog), 'the same commands reached the real daemon');
    assert.doesNotMatch(withIt.first.client.stderr.toString(), /Unknown command|Finished with [1-9]/);
    assert.deepEqual(withIt.firstLines, without.firstLines);
    assert.deepEqual(withIt.conflictLines, without.conflictLines);
    assert.equal(withIt.conflict.client.code, without.conflict.client.code);
    assert.deepEqual(withIt.tree, without.tree);
  });

  it('removals ask SIGT of our daemon (a signature\'s size, no bytes); at -vv the lines equal csync2\'s conversation\'s', async () => {
    const removals = async (env: Record<string, string | undefined>): Promise<{ r: SyncResult; lines: string[]; server: TestHost }> => {
      const c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
      clusters.push(c);
      const [client, server] = c.hosts as [TestHost, TestHost];
      await client.write('a.txt', 'alpha\n');
      await client.write('b.bin', Buffer.alloc(5000, 7));
      await client.write('d/c.txt', 'nested\n');
      await client.symlink('a.txt', 'link');
      assert.equal((await client.run(['-cr', '/'])).code, 0);
      assert.equal((await syncOnce(client, server, ['-uv'])).client.code, 0);
      for (const rel of ['a.txt', 'b.bin', 'd', 'link']) await client.rm(rel);
      assert.equal((await client.run(['-cr', '/'])).code, 0);
      const r = await syncOnce(client, server, ['-uvv'], { serverImpl: 'ours', daemonVerbose: 3, env });
      const norm = lines(r.client.stderr).map((l) => l.replaceAll(c.root, 'ROOT').replaceAll(client.name, 'CLIENT').replaceAll(server.name, 'SERVER')
        .replace(/:\d+ \(SERVER\)/, ':PORT (SERVER)').replace(/[0-9A-F]{200,}/, 'CERT'));
      return { r, lines: norm, server };
    };
    const [withIt, without] = await Promise.all([removals({}), removals({ CSYNC2_TS_NO_EXTENSIONS: '1' })]);
    assert.equal(withIt.r.client.code, 0, withIt.r.text);
    const log = withIt.r.server.stderr.toString('latin1');
    assert.match(log, /SIGT /, 'the daemon saw SIGT');
    assert.doesNotMatch(without.r.server.stderr.toString('latin1'), /SIGT/, 'nothing of it when turned off');
    // csync2 compares the peer's signature with a missing file's: the size alone tells (12 + 3 blocks of 20).
    assert.ok(withIt.lines.includes('Signature size differs: local=0, peer=72'), withIt.r.text);
    // The SQL lines print as the statements run: where they fall among a pipelined walk's lines varies.
    const noSql = (ls: string[]): string[] => ls.filter((l) => !l.startsWith('SQL: '));
    assert.deepEqual(noSql(withIt.lines), noSql(without.lines));
    assert.deepEqual(withIt.lines.filter((l) => l.startsWith('SQL: ')).sort(), without.lines.filter((l) => l.startsWith('SQL: ')).sort());
    assert.deepEqual((await withIt.server.treeSnapshot()).map((e) => e.path), [''], 'everything was removed');
  });

  it('at -vv our daemon prints the pattern matches of every command\'s check (none is reused there)', async () => {
    const c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
    clusters.push(c);
    const [client, server] = c.hosts as [TestHost, TestHost];
    await client.write('one.txt', 'one\n');
    assert.equal((await client.run(['-cr', '/'])).code, 0);
    const r = await syncOnce(client, server, ['-u'], { serverImpl: 'ours', daemonVerbose: 2 });
    assert.equal(r.client.code, 0, r.text);
    const log = r.server.stderr.toString('latin1');
    // After XPATCH's `Updated` line, SETOWN, SETMOD and SETIME each check the name again and print
    // its pattern match (csync2's daemon checks per command); with the check reused, none would.
    const after = log.slice(log.indexOf('Updated ')).split('\n');
    const matches = after.filter((l) => /Match \(\+\): .* on \S*\/one\.txt$/.test(l));
    assert.ok(log.includes('Updated '), log);
    assert.ok(matches.length >= 3, `pattern matches of one.txt after its XPATCH at -vv: ${matches.length}\n${log}`);
    assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot()), []);
  });

  it('at -vvv the wire dump is csync2\'s conversation: no XPATCH', async () => {
    const c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
    clusters.push(c);
    const [client, server] = c.hosts as [TestHost, TestHost];
    for (let i = 0; i < 6; i++) await client.write(`f${i}.txt`, `file ${i}\n`);
    assert.equal((await client.run(['-cr', '/'])).code, 0);
    const r = await syncOnce(client, server, ['-uvvv']);
    assert.equal(r.client.code, 0, r.text);
    assert.doesNotMatch(r.client.stderr.toString('latin1'), /XPATCH/);
    assert.match(r.client.stderr.toString('latin1'), /PATCH/);
  });
  it('below a directory its MKDIR just made, an entry goes without a SIG (version 4); same outcome', async () => {
    const deep = async (env: Record<string, string | undefined>): Promise<{ r: SyncResult; sigs: Map<string, number>; lines: string[];
      tree: ReturnType<typeof diffTrees>; files: string[][]; dirty: string[][] }> => {
      const c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
      clusters.push(c);
      const [client, server] = c.hosts as [TestHost, TestHost];
      // A chain of new directories: each one's entries are asked about before its MKDIR is sent.
      let dir = '';
      for (let i = 1; i <= 8; i++) {
        dir += `${dir ? '/' : ''}d${i}`;
        await client.write(`${dir}/f${i}.txt`, `level ${i}\n`);
      }
      await client.mkdir(`${dir}/empty`);
      assert.equal((await client.run(['-cr', '/'])).code, 0);
      const r = await syncOnce(client, server, ['-uv'], { serverImpl: 'ours', daemonVerbose: 3, env });
      const sigs = new Map<string, number>();
      for (const l of r.server.stderr.toString('latin1').split('\n')) {
        const m = /Peer> SIG \S+ ([^\s\\]+)/.exec(l);
        if (m) sigs.set(m[1]!, (sigs.get(m[1]!) ?? 0) + 1);
      }
      return { r, sigs, lines: clientLines(r.client.stderr, client, server), tree: diffTrees(await client.treeSnapshot(), await server.treeSnapshot()),
        files: await server.dump('file'), dirty: await client.dump('dirty') };
    };
    const [withIt, without] = await Promise.all([deep({}), deep({ CSYNC2_TS_NO_EXTENSIONS: '1' })]);
    assert.equal(withIt.r.client.code, 0, withIt.r.text);
    const twice = (m: Map<string, number>): string[] => [...m].filter(([, n]) => n > 1).map(([f]) => f);
    assert.deepEqual(twice(withIt.sigs), [], `no entry asked about twice: ${[...withIt.sigs].join(' ')}`);
    // d1's SIG found nothing: everything below it was created without one.
    assert.ok([...withIt.sigs.keys()].some((f) => /\/d1$/.test(f)), `d1 was asked about: ${[...withIt.sigs.keys()].join(' ')}`);
    assert.deepEqual([...withIt.sigs.keys()].filter((f) => /\/d1\//.test(f)), [], 'no SIG below the new directory d1');
    assert.ok([...without.sigs.keys()].filter((f) => /\/d1\//.test(f)).length >= 16, "without the extensions, every entry below d1 is asked about (8 files, d2..d8, empty)");
    assert.ok(twice(without.sigs).length > 0, `without the extensions, entries of new directories are asked again: ${[...without.sigs].join(' ')}`);
    assert.deepEqual(withIt.lines, without.lines);
    assert.deepEqual(withIt.tree, []);
    assert.deepEqual(without.tree, []);
    assert.deepEqual(withIt.files.map((r) => r[0]), without.files.map((r) => r[0]));
    assert.deepEqual(withIt.dirty, []);
    assert.deepEqual(without.dirty, []);
  });
  it('a new directory whose MKDIR fails on our daemon: the walk ends, with the lines and rows of a push without the extensions', async () => {
    // No inode left on the daemon's side: SIG finds nothing, MKDIR fails (ENOSPC), and the entries below
    // the directory, sent without a SIG of their own, answer `Parent dir missing.`. Two such subtrees
    // (d and d/e) once restarted the walk in turn for ever.
    const run = async (env: Record<string, string | undefined>): Promise<{ r: SyncResult; lines: string[]; dirty: string[][] }> => {
      const c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
      clusters.push(c);
      const [client, server] = c.hosts as [TestHost, TestHost];
      await client.write('d/e/f2', 'two\n');
      await client.write('d/f1', 'one\n');
      await client.write('z', 'zulu\n');
      assert.equal((await client.run(['-cr', '/'])).code, 0);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,nr_inodes=1,mode=0755', 'tmpfs', server.dataDir], { stdio: 'pipe' });
      try {
        const r = await syncOnce(client, server, ['-uv'], { serverImpl: 'ours', env, timeoutMs: 30_000 });
        return { r, lines: clientLines(r.client.stderr, client, server), dirty: await client.dump('dirty') };
      } finally {
        execFileSync('umount', ['-l', server.dataDir], { stdio: 'pipe' });
      }
    };
    const [withIt, without] = await Promise.all([run({}), run({ CSYNC2_TS_NO_EXTENSIONS: '1' })]);
    assert.equal(withIt.r.client.code, 1, withIt.r.text);
    assert.equal(without.r.client.code, 1, without.r.text);
    assert.ok(withIt.lines.includes('missing parent dir : %data%/d'), withIt.lines.join('\n'));
    assert.deepEqual(withIt.lines, without.lines);
    assert.deepEqual(withIt.dirty.map((r) => r[0]).sort(), without.dirty.map((r) => r[0]).sort());
    assert.ok(withIt.dirty.length >= 4, JSON.stringify(withIt.dirty));
  });
});
