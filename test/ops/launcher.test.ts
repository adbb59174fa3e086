/**
 * bin/csync2 started as a command, as the installed command, the units and scripts start it (the
 * other tests run `node --verify-snapshot-checksum dist/csync2.cjs`, what it starts): node starts without NODE_EXTRA_CA_CERTS (a CA bundle it would
 * read at every start for nothing: csync2 pins peer certificates), and the actions csync2 runs get
 * the variable back as it was; a daemon started in the background serves a real csync2 client
 * started at the same moment (the native pre-binder listens before node starts), as csync2's own
 * tests do it.
 */
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createCluster, formatRun, type TestHost } from '../helpers/index.js';
import { OUR_CSYNC2, REPO_ROOT } from '../helpers/paths.js';

test('the launcher: node starts without NODE_EXTRA_CA_CERTS, actions get it back; actions do not get the launcher\'s MALLOC_ARENA_MAX', async () => {
  const cluster = await createCluster({
    hosts: [{ impl: 'ours' }, { impl: 'ours' }],
    configFor: (host, c) => c.defaultConfig({
      groupBody: host.index !== 0 ? 'include %data%;' : 'include %data%;\n'
        + `action {\n  pattern %data%/only/*;\n  exec "sh -c 'echo ca=$NODE_EXTRA_CA_CERTS arena=$MALLOC_ARENA_MAX.'";\n`
        + `  logfile ${host.root}/only.log;\n  do-local-only;\n}`,
    }),
  });
  try {
    const [client, server] = cluster.hosts as [TestHost, TestHost];
    await client.write('only/x', 'x\n');
    const daemon = await server.startDaemon({ mode: '-iii' });
    // A file that does not exist: node would warn on stderr at start-up that it cannot load it.
    const ca = `${client.root}/no-such-ca.pem`;
    const r = await cluster.tracker.run([OUR_CSYNC2, ...client.baseArgs(), '-xv'],
      { env: client.env({ NODE_EXTRA_CA_CERTS: ca }), cwd: client.root });
    const d = await daemon.exited;
    assert.equal(r.code, 0, `${formatRun(r)}\n${formatRun(d)}`);
    assert.doesNotMatch(r.stderr.toString(), /extra certs/i, 'node did not read the CA file');
    assert.equal((await server.read('only/x')).toString(), 'x\n');
    assert.equal(await readFile(`${client.root}/only.log`, 'latin1'), `ca=${ca} arena=.\n`);
  } finally {
    await cluster.cleanup();
  }
});

test('a daemon started in the background serves a real client started at the same moment', async () => {
  assert.ok(existsSync(`${REPO_ROOT}/dist/launcher/csync2-prebind`), 'make build compiles the pre-binder');
  const cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'ours' }] });
  try {
    const [client, server] = cluster.hosts as [TestHost, TestHost];
    for (let round = 1; round <= 3; round++) {
      await client.write(`f${round}.txt`, `round ${round}\n`);
      // Like csync2's tests (csync2_T): `csync2 -iii &`, then the client, no wait in between.
      const daemon = cluster.tracker.spawn([OUR_CSYNC2, ...server.baseArgs(), '-iii', '-v'], { env: server.env(), cwd: server.root });
      const r = await client.run(['-xv']);
      if (r.code !== 0) daemon.kill('SIGTERM'); // it still waits for the connection that failed
      const d = await daemon.exited;
      assert.equal(r.code, 0, `round ${round}\n${formatRun(r)}\n${formatRun(d)}`);
      assert.equal((await server.read(`f${round}.txt`)).toString(), `round ${round}\n`);
    }
  } finally {
    await cluster.cleanup();
  }
});

test('node\'s flags: a small young generation for client and local modes (a plain -u without --optimize-for-size), node\'s defaults for the daemon; always the code cache\'s checksum and less inlining', async () => {
  const dir = await mkdtemp(`${tmpdir()}/launcher-flags-`);
  try {
    const argsOf = await standInNode(dir, OUR_CSYNC2);
    const sum = ['--verify-snapshot-checksum', '--max-inlined-bytecode-size-cumulative=200'];
    const small = [...sum, '--max-semi-space-size=2', '--optimize-for-size'];
    const push = [...sum, '--max-semi-space-size=8', '--heap-growing-percent=20'];
    const flagsOf = (argv: string[]): string[] => argv.slice(0, argv.findIndex((a) => a.endsWith('/bin/csync2') || a.endsWith('/dist/csync2.cjs')));
    assert.deepEqual(flagsOf(await argsOf(['-xv'])), small);
    assert.deepEqual(flagsOf(await argsOf(['-Cmain', '-x'])), small, '-C takes the rest of the word as its value');
    assert.deepEqual(flagsOf(await argsOf(['-Cmain', '-u'])), push, 'a plain -u');
    assert.deepEqual(flagsOf(await argsOf(['-uv', '-N', 'host'])), push);
    assert.deepEqual(flagsOf(await argsOf(['-c', '-u'])), small, 'a check keeps the whole tree\'s rows');
    assert.deepEqual(flagsOf(await argsOf(['-cu'])), small);
    assert.deepEqual(flagsOf(await argsOf(['-Nxu', '-u'])), push, '-N takes the rest of the word');
    assert.deepEqual(flagsOf(await argsOf(['-x', '--', '-i'])), small, 'a file name after --');
    // Two malloc arenas for every mode but the daemon, unless the user chose a number.
    const arena = async (args: string[], env: Record<string, string> = {}): Promise<string> => {
      await argsOf(args, env);
      return readFile(`${dir}/arena`, 'latin1');
    };
    assert.equal(await arena(['-u']), '2 1');
    assert.equal(await arena(['-cr', '/']), '2 1');
    assert.equal(await arena(['-u'], { MALLOC_ARENA_MAX: '8' }), '8 unset', 'the user\'s own choice');
    const port = String(20000 + Math.floor(Math.random() * 20000));
    for (const daemon of [['-iii'], ['-vi'], ['-ii', '-Cmain']]) {
      const argv = await argsOf([...daemon, '-N', '127.0.0.1', '-p', port]);
      assert.equal(await readFile(`${dir}/arena`, 'latin1'), 'unset unset', daemon.join(' '));
      assert.deepEqual(flagsOf(argv), sum, daemon.join(' '));
      assert.deepEqual(argv.slice(-5), [...daemon, '-N', '127.0.0.1', '-p', port].slice(-5));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the launcher runs the one-file build unless tsc built after it or it is missing', async () => {
  const dir = await mkdtemp(`${tmpdir()}/launcher-entry-`);
  try {
    // A copy of the launcher in a layout of its own.
    await mkdir(`${dir}/bin`);
    await mkdir(`${dir}/dist`);
    await copyFile(OUR_CSYNC2, `${dir}/bin/csync2`);
    const argsOf = await standInNode(dir, `${dir}/bin/csync2`);
    const entryOf = async (): Promise<string> => (await argsOf(['-cr', '/'])).find((l) => l.startsWith(dir))!.slice(dir.length);
    assert.equal(await entryOf(), '/bin/csync2', 'no bundle: the ES modules');
    await writeFile(`${dir}/dist/csync2.cjs`, '');
    assert.equal(await entryOf(), '/dist/csync2.cjs', 'installed (no tsc build info): the bundle');
    const t = Date.now() / 1000;
    await writeFile(`${dir}/dist/.tsbuildinfo`, '');
    await utimes(`${dir}/dist/csync2.cjs`, t - 10, t - 10);
    await utimes(`${dir}/dist/.tsbuildinfo`, t - 5, t - 5);
    assert.equal(await entryOf(), '/bin/csync2', 'tsc built after the bundle: the ES modules');
    await utimes(`${dir}/dist/csync2.cjs`, t, t);
    assert.equal(await entryOf(), '/dist/csync2.cjs', 'bundled after tsc: the bundle');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * A stand-in for node (in dir/path) that prints what it was started with, one argument per line,
 * and writes its MALLOC_ARENA_MAX and CSYNC2_TS_ARENA to dir/arena; returns a runner of
 * `launcher ARGS` that finds it first in PATH.
 */
async function standInNode(dir: string, launcher: string): Promise<(args: string[], env?: Record<string, string>) => Promise<string[]>> {
  await mkdir(`${dir}/path`);
  await writeFile(`${dir}/path/node`, '#!/bin/sh\nprintf "%s %s" "${MALLOC_ARENA_MAX-unset}" "${CSYNC2_TS_ARENA-unset}" > "${0%/*/*}/arena"\nprintf "%s\\n" "$@"\n');
  await chmod(`${dir}/path/node`, 0o755);
  return (args, extraEnv = {}) => new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, PATH: `${dir}/path:${process.env.PATH ?? ''}`, ...extraEnv };
    if (!('MALLOC_ARENA_MAX' in extraEnv)) delete env.MALLOC_ARENA_MAX;
    execFile(launcher, args, { env }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.split('\n').filter((l) => l !== ''));
    });
  });
}
