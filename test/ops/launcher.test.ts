/**
 * bin/csync2 started as a command, as the installed command, the units and scripts start it (the
 * other tests run `node bin/csync2`): node starts without NODE_EXTRA_CA_CERTS (a CA bundle it would
 * read at every start for nothing: csync2 pins peer certificates), and the actions csync2 runs get
 * the variable back as it was; a daemon started in the background serves a real csync2 client
 * started at the same moment (the native pre-binder listens before node starts), as csync2's own
 * tests do it.
 */
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createCluster, formatRun, type TestHost } from '../helpers/index.js';
import { OUR_CSYNC2, REPO_ROOT } from '../helpers/paths.js';

test('the launcher: node starts without NODE_EXTRA_CA_CERTS, actions get it back', async () => {
  const cluster = await createCluster({
    hosts: [{ impl: 'ours' }, { impl: 'ours' }],
    configFor: (host, c) => c.defaultConfig({
      groupBody: host.index !== 0 ? 'include %data%;' : 'include %data%;\n'
        + `action {\n  pattern %data%/only/*;\n  exec "sh -c 'echo ca=$NODE_EXTRA_CA_CERTS'";\n`
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
    assert.equal(await readFile(`${client.root}/only.log`, 'latin1'), `ca=${ca}\n`);
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
