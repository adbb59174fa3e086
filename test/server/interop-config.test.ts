/**
 * Server-side configuration against our daemon and a real one (twin.ts): include/exclude patterns
 * of the server, actions with `%%` and a logfile, backups with generations, a second prefix (one
 * whose directory is missing on the server), `ignore uid/gid/mod`, `tempdir`. A real csync2 client
 * pushes, TLS on; every round records the server's tree and database.
 */
import assert from 'node:assert/strict';
import { existsSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chown } from 'node:fs/promises';
import { treeSnapshot, diffTrees, type TestHost } from '../helpers/index.js';
import { T0, assertClean, settle, twinTest, type Twin } from './twin.js';

/** Server and client get different group bodies (the client's is plain `include %data%;`). */
function serverBody(body: string, clientBody = 'include %data%;') {
  return {
    configFor: (host: TestHost, c: Twin['cluster']) => c.defaultConfig({ groupBody: host.index === 1 ? body : clientBody }),
  };
}

twinTest('include/exclude of the server: excluded and unlisted names are refused, the rest is applied',
  serverBody('include %data%;\nexclude %data%/private;\nexclude %data%/*.tmp;'), async (t) => {
    const { client, server } = t;
    await client.write('public.txt', 'public\n');
    await client.write('private/secret.txt', 'secret\n');
    await client.write('scratch.tmp', 'tmp\n');
    await client.write('sub/deep.tmp', 'not matched by *.tmp (FNM_PATHNAME)\n');
    await settle(client);
    const r = await t.sync('push');
    assert.equal(r.client.code, 1, r.text);
    assert.equal((await server.read('public.txt')).toString(), 'public\n');
    assert.equal(await server.stat('private'), null, 'an excluded directory is not made');
    assert.equal(await server.stat('scratch.tmp'), null);
    assert.equal((await server.read('sub/deep.tmp')).toString(), 'not matched by *.tmp (FNM_PATHNAME)\n');
    const stays = (await client.dump('dirty')).map((row) => row[0]).sort();
    assert.deepEqual(stays, ['%25data%25/private', '%25data%25/private/secret.txt', '%25data%25/scratch.tmp']);
    await t.snapshot('push');
  });

twinTest('an action with %% and a logfile runs once, at the end of the session, on the server', {
  configFor: (host, c) => c.defaultConfig({
    groupBody: 'include %data%;\n'
      + 'action {\n'
      + '  pattern %data%/act/*;\n'
      + `  exec "echo files: %%" "sh -c 'echo second; ls ${host.dataDir}/act | wc -l'";\n`
      + `  logfile ${host.root}/action.log;\n`
      + '}\n'
      + 'action {\n  pattern %data%/local-only/*;\n  exec "echo never on the receiver";\n'
      + `  logfile ${host.root}/local.log;\n  do-local-only;\n}`,
  }),
}, async (t) => {
  const { client, server } = t;
  await client.write('act/a.txt', 'a\n');
  await client.write('act/b c.txt', 'b c\n');
  await client.write('act/sub/d.txt', 'd\n');
  await client.write('other.txt', 'not matched\n');
  await client.write('local-only/x', 'x\n');
  await settle(client);
  const r = await t.sync('push');
  assertClean(r);
  const log = (await readFile(join(server.root, 'action.log'), 'latin1')).split('\n').filter((l) => l !== '');
  t.note('action.log', log);
  // One line per command: each ran once, with every matching file, after the last file arrived
  // (the listing counts the three entries of act/: a.txt, 'b c.txt', sub). csync2 runs the
  // (command, logfile) pairs in reverse SELECT order, and puts the names in reverse order too.
  assert.deepEqual(log, ['second', '3',
    'files: %25data%25/act/sub/d.txt %25data%25/act/sub %25data%25/act/b%20c.txt %25data%25/act/a.txt']);
  assert.deepEqual(await server.dump('action'), [], 'the rows are gone once run');
  assert.equal(existsSync(join(server.root, 'local.log')), false, 'do-local-only does not run on the receiver');
  await t.snapshot('push');
});

twinTest('backups with generations before PATCH and DEL (csync2 directory layout and rotation)', {
  configFor: (host, c) => c.defaultConfig({
    groupBody: host.index === 1
      ? `include %data%;\nbackup-directory ${host.root}/backup;\nbackup-generations 3;`
      : 'include %data%;',
  }),
}, async (t) => {
  const { client, server } = t;
  await client.write('dir/f.txt', 'version 1\n', 0o640);
  await client.write('gone.txt', 'about to go\n');
  await client.mkdir('emptydir');
  await settle(client);
  assertClean(await t.sync('v1'));
  const backups = join(server.root, 'backup');
  t.note('after v1', await treeSnapshot(backups).catch(() => 'no backup directory'));
  for (const v of [2, 3, 4]) {
    await client.write('dir/f.txt', `version ${v}\n`);
    await settle(client, T0 + v);
    assertClean(await t.sync(`v${v}`));
  }
  await client.rm('gone.txt');
  await client.rm('emptydir');
  assertClean(await t.sync('del'));
  const base = join(backups, server.dataDir);
  assert.equal((await readFile(join(base, 'dir/f.txt'), 'latin1')), 'version 3\n');
  // csync2's rotation renames the base to .2 (N-1) every time: .1 never exists.
  assert.equal((await readFile(join(base, 'dir/f.txt.2'), 'latin1')), 'version 2\n');
  assert.equal((await readFile(join(base, 'gone.txt'), 'latin1')), 'about to go\n');
  assert.equal(await server.stat('gone.txt'), null);
  t.note('backups', await treeSnapshot(base));
  // The directories on the way get the owner and mode of the originals (the backup dir itself 0700).
  const { lstat } = await import('node:fs/promises');
  const chain: string[] = [];
  for (let d = join(base, 'dir'); d.length >= backups.length; d = join(d, '..')) {
    const st = await lstat(d);
    chain.push(`${d.slice(backups.length) || '/'} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
  }
  t.note('backup dirs', chain);
  await t.snapshot('del');
});

twinTest('two prefixes: files under both arrive; a prefix whose directory is missing on the server is never created', {
  configFor: (host, c) => c.defaultConfig({
    groupBody: 'include %data%;\ninclude %second%;\ninclude %absent%;',
    extraConfig: `prefix second\n{\n${c.hosts.map((h) => `\ton ${h.name}: ${h.root}/second;`).join('\n')}\n}\n`
      + `prefix absent\n{\n${c.hosts.map((h) => `\ton ${h.name}: ${h.root}/absent;`).join('\n')}\n}\n`,
  }),
}, async (t) => {
  const { client, server } = t;
  const { mkdir, writeFile } = await import('node:fs/promises');
  await client.write('in-data.txt', 'data\n');
  for (const h of [client, server]) await mkdir(join(h.root, 'second'));
  await writeFile(join(client.root, 'second/in-second.txt'), 'second\n');
  await mkdir(join(client.root, 'absent/sub'), { recursive: true });
  await writeFile(join(client.root, 'absent/sub/x.txt'), 'never arrives\n');
  await settle(client);
  const r = await t.sync('push');
  assert.equal((await server.read('in-data.txt')).toString(), 'data\n');
  assert.equal(await readFile(join(server.root, 'second/in-second.txt'), 'latin1'), 'second\n');
  assert.equal(await readFile(join(server.root, 'absent/sub/x.txt')).catch(() => null), null);
  t.note('code', r.client.code);
  t.note('second tree', await treeSnapshot(join(server.root, 'second')));
  await t.snapshot('push');
});

twinTest('ignore uid gid mod on both sides: SETOWN/SETMOD do nothing, owners and modes stay the server\'s', {
  extraConfig: 'ignore uid gid mod;',
}, async (t) => {
  const { client, server } = t;
  await client.write('owned.txt', 'owned\n', 0o640);
  await chown(client.path('owned.txt'), 1234, 5678);
  await client.write('exec.sh', 'exec\n', 0o755);
  await settle(client);
  assertClean(await t.sync('first'));
  const owned = (await server.stat('owned.txt'))!;
  assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [0, 0, 0o600], 'a new file keeps the temp file\'s ids and 0600');
  // Owner and mode changes are invisible with ignore: no dirty rows on the server; the next
  // content change keeps the server's owner and mode.
  await chown(server.path('exec.sh'), 42, 43);
  await server.chmod('exec.sh', 0o700);
  await client.write('exec.sh', 'exec v2\n');
  await client.chmod('exec.sh', 0o777);
  await settle(client, T0 + 1);
  assertClean(await t.sync('second'));
  const exec = (await server.stat('exec.sh'))!;
  // The new content's temp file keeps its own (the daemon's) ids; only the mode is cloned.
  assert.deepEqual([exec.uid, exec.gid, exec.mode & 0o7777], [0, 0, 0o700], 'a replaced file keeps its mode, not its owner');
  assert.equal((await server.read('exec.sh')).toString(), 'exec v2\n');
  assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot(), { ignore: ['uid', 'gid', 'mode'] }), []);
  await t.snapshot('second');
});

twinTest('ignore uid/gid only on the server: the client\'s owner never arrives, its mode does', {
  configFor: (host, c) => c.defaultConfig({ extraConfig: host.index === 1 ? 'ignore uid;\nignore gid;' : '' }),
}, async (t) => {
  const { client, server } = t;
  await client.write('f.txt', 'f\n', 0o604);
  await chown(client.path('f.txt'), 1234, 5678);
  await settle(client);
  const r = await t.sync('push');
  const st = (await server.stat('f.txt'))!;
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o604]);
  t.note('code', r.client.code);
  await t.snapshot('push');
});

twinTest('tempdir: new content is written in the configured directory first', {
  configFor: (host, c) => c.defaultConfig({ extraConfig: `tempdir ${host.root}/tmp;` }),
}, async (t) => {
  const { client, server } = t;
  const { mkdir } = await import('node:fs/promises');
  const tempdir = join(server.root, 'tmp');
  await mkdir(tempdir);
  await client.write('big.bin', Buffer.alloc(3_000_000, 9));
  await client.write('small.txt', 'small\n');
  await settle(client);
  const seen: string[] = [];
  const watcher = watch(tempdir, (_event, name) => { if (name) seen.push(String(name)); });
  let r;
  try {
    r = await t.sync('push');
  } finally {
    watcher.close();
  }
  assertClean(r);
  assert.equal((await server.read('small.txt')).toString(), 'small\n');
  const names = [...new Set(seen.map((n) => n.replace(/\.[^.]{6}$/, '.XXXXXX')))].sort();
  assert.deepEqual(names, ['.big.bin.XXXXXX', '.small.txt.XXXXXX'], JSON.stringify(seen));
  assert.deepEqual((await treeSnapshot(tempdir)).map((e) => e.path), [''], 'nothing is left in the tempdir');
  await t.snapshot('push');
});
