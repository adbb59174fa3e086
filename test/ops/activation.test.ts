/**
 * Our daemon started the way the shipped systemd units start it, with the real csync2 as the client:
 *
 * - Accept=yes (csync2.socket + csync2@.service): one `csync2 -i -l` per connection, the connection on
 *   stdin/stdout;
 * - Accept=no (csync2-standalone.socket + .service): one `csync2 -ii -l` serving the listening socket
 *   it got as fd 3, for every connection.
 *
 * The command lines are taken from the unit files (ExecStart, with /usr/sbin/csync2 replaced by our
 * launcher, as `make install` does), plus the test host's -N/-D/-p. Sockets come from
 * systemd-socket-activate (see activator.ts). The daemon's syslog lines are caught and shown when a
 * test fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createCluster, diffTrees, formatRun, type Cluster, type RunResult } from '../helpers/index.js';
import { OUR_ENTRY } from '../helpers/paths.js';
import { activate, catchSyslog, type Activated, type SyslogCatcher } from './activator.js';
import { SHIPPED_CSYNC2, execStart } from './files.js';

/** Our daemon's command line as the unit file gives it. */
function unitCommand(unit: string, baseArgs: string[]): string[] {
  const { program, args } = execStart(unit);
  assert.equal(program, SHIPPED_CSYNC2, `${unit} starts ${program}`);
  return [process.execPath, OUR_ENTRY, ...baseArgs, ...args];
}

interface Setup {
  cluster: Cluster;
  activated: Activated;
  syslog: SyslogCatcher;
  /** Everything the daemon side said, for assertion messages. */
  diagnose(...runs: RunResult[]): string;
}

/** A real csync2 client (host 1) and our daemon (host 2) behind the activator. */
async function setUp(unit: string, mode: 'accept' | 'listen'): Promise<Setup> {
  const cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'ours' }] });
  const server = cluster.hosts[1]!;
  const syslog = await catchSyslog(join(cluster.root, 'syslog.sock'));
  const activated = await activate(cluster, server, mode, unitCommand(unit, server.baseArgs()),
    server.env({ CSYNC2_SYSLOG_SOCKET: syslog.path }));
  const diagnose = (...runs: RunResult[]): string => [
    ...runs.map((r) => formatRun(r)),
    `=== activator and daemon output (${unit}) ===`, activated.output(),
    '=== daemon syslog ===', ...syslog.lines(),
    // Until src/server implements the daemon, the syslog above says so.
  ].join('\n');
  return { cluster, activated, syslog, diagnose };
}

async function tearDown(s: Setup): Promise<void> {
  await s.activated.stop();
  await s.cluster.cleanup();
  await s.syslog.close();
}

/** The real client pushes a small tree and audits it; both must succeed against our daemon. */
async function pushAndAudit(s: Setup): Promise<void> {
  const [client, server] = s.cluster.hosts as [typeof s.cluster.hosts[0], typeof s.cluster.hosts[0]];
  await client.write('index.html', 'hello\n');
  await client.write('sub/page.html', 'page\n', 0o640);
  await client.symlink('index.html', 'link');

  const push = await client.run(['-xv']);
  assert.equal(push.code, 0, `the real client's push (csync2 -xv) through ${server.name} failed\n${s.diagnose(push)}`);
  assert.deepEqual(diffTrees(await client.treeSnapshot(), await server.treeSnapshot()), [], s.diagnose(push));
  assert.deepEqual(await client.dump('dirty'), [], s.diagnose(push));

  // -T compares both databases over a second connection: 2 = in sync.
  const audit = await client.run(['-T']);
  assert.equal(audit.code, 2, `csync2 -T after the push\n${s.diagnose(audit)}`);
  assert.equal(audit.stdout.toString('latin1'), '');
  assert.deepEqual(s.syslog.problems(), [], `the daemon logged warnings or errors\n${s.diagnose(push, audit)}`);
}

test('Accept=yes (csync2@.service): real csync2 pushes through `csync2 -i -l`, one process per connection', async () => {
  const s = await setUp('csync2@.service', 'accept');
  try {
    await pushAndAudit(s);
    assert.equal(s.activated.sessions(), 2, `one process for -x, one for -T\n${s.diagnose()}`);
  } finally {
    await tearDown(s);
  }
});

test('Accept=no (csync2-standalone.service): one `csync2 -ii -l` on the passed socket serves every connection', async () => {
  const s = await setUp('csync2-standalone.service', 'listen');
  try {
    await pushAndAudit(s);
    const [client, server] = s.cluster.hosts as [typeof s.cluster.hosts[0], typeof s.cluster.hosts[0]];
    await client.write('index.html', 'changed\n');
    const again = await client.run(['-x']);
    assert.equal(again.code, 0, s.diagnose(again));
    assert.equal((await server.read('index.html')).toString(), 'changed\n');
    assert.equal(s.activated.sessions(), 1, `a single daemon served all three connections\n${s.diagnose()}`);
    assert.match(s.activated.output(), /^Csync2 daemon running\. Waiting for connections\.$/m);
  } finally {
    await tearDown(s);
  }
});
