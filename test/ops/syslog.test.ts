/**
 * Logging to syslog (-l, implied by -i) and the -t / -s timestamps, compared with the real csync2.
 *
 * csync2 calls openlog("csync2", LOG_ODELAY | LOG_PID, LOG_LOCAL0) and maps its levels to priorities
 * (level 0 -> LOG_WARNING, 1 -> LOG_INFO, 2 and up -> LOG_DEBUG, below 0 -> LOG_ERR). Its messages are
 * caught on a unix datagram socket standing in for /dev/log: for the real csync2 inside a private
 * mount namespace (devlog.ts), for ours there too (its default socket) or through CSYNC2_SYSLOG_SOCKET.
 * The twin tests run both programs with the same arguments and compare the messages one by one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCluster, formatRun, isListening, sleep, type Cluster, type TestHost } from '../helpers/index.js';
import { OUR_ENTRY, REAL_CSYNC2, implCommand, type Impl } from '../helpers/paths.js';
import { randomKey } from '../helpers/cluster.js';
import { syslogPriority } from '../../src/util/syslog.js';
import { activate } from './activator.js';
import {
  LOG_LOCAL0, SEVERITY, canUseDevLogNamespace, catchDatagrams, runWithDevLog, startWithDevLog,
  type DevLogRun, type SyslogMessage,
} from './devlog.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function scratch(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `csync2-ts-syslog-${name}-`));
  roots.push(dir);
  return dir;
}

const NAMESPACE_HELP = 'these tests need a private mount namespace for /dev/log: run as root, or allow unprivileged '
  + 'user namespaces (sysctl kernel.unprivileged_userns_clone=1)';

before(() => {
  assert.ok(canUseDevLogNamespace(), NAMESPACE_HELP);
});

/** The text without csync2's final newline (glibc sends it, our logger child drops it). */
const body = (m: SyslogMessage): string => m.text.replace(/\n$/, '');
/** Stable comparison form of a message: severity, facility, ident and text. */
const shape = (m: SyslogMessage): string => `${m.facility}.${m.severity} ${m.ident}: ${body(m)}`;

function assertCsync2Header(messages: SyslogMessage[], pid?: number): void {
  assert.ok(messages.length > 0, 'some messages arrived');
  for (const m of messages) {
    assert.equal(m.ident, 'csync2', m.raw);
    assert.equal(m.facility, LOG_LOCAL0, `facility LOCAL0: ${m.raw}`);
    if (pid !== undefined) assert.equal(m.pid, pid, `LOG_PID csync2[${pid}]: ${m.raw}`);
  }
}

/** A time-free form of -t / -s output: dates, times and pids replaced. */
function normaliseTimes(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]{2,5} \(GMT[+-]\d{4}\)/g, 'DATE')
    .replace(/\[\d\d:\d\d:\d\d\] /g, '[T] ')
    .replace(/^<\d+> /gm, '<PID> ')
    .replace(/TOTALTIME: \d+:\d\d:\d\d/g, 'TOTALTIME: H:MM:SS');
}

describe('syslogPriority: csync2 levels to LOCAL0 priorities', () => {
  test('level <0 -> err, 0 -> warning, 1 -> info, 2 and 3 -> debug', () => {
    assert.deepEqual([-1, 0, 1, 2, 3].map(syslogPriority), [131, 132, 134, 135, 135]);
  });
});

/** One host for local modes: a config naming alpha and beta, a key, some files, a database dir. */
function localHost(): { root: string; env: NodeJS.ProcessEnv; args: (db: string) => string[]; data: string } {
  const root = scratch('local');
  const etc = join(root, 'etc');
  const data = join(root, 'data');
  mkdirSync(etc);
  mkdirSync(join(data, 'sub'), { recursive: true });
  writeFileSync(join(etc, 'csync2.key'), randomKey(), { mode: 0o600 });
  writeFileSync(join(etc, 'csync2.cfg'), `group g { host alpha beta; key csync2.key; include ${data}; }\n`);
  writeFileSync(join(data, 'a.txt'), 'a\n');
  writeFileSync(join(data, 'sub', 'b.txt'), 'b\n');
  return {
    root,
    data,
    env: { ...process.env, CSYNC2_SYSTEM_DIR: etc },
    args: (db) => {
      mkdirSync(join(root, db), { recursive: true });
      return ['-N', 'alpha', '-D', join(root, db)];
    },
  };
}

describe('client runs with -l: the same syslog messages as the real csync2', () => {
  test('-l -v -cr: ident, LOG_PID, LOCAL0, levels 0 and 1, message by message; nothing on stderr', async () => {
    const host = localHost();
    const runs: Record<Impl, DevLogRun> = {
      real: await runWithDevLog([REAL_CSYNC2, ...host.args('db-real'), '-l', '-v', '-cr', host.data], scratch('ns'), host.env),
      ours: await runWithDevLog([...implCommand('ours'), ...host.args('db-ours'), '-l', '-v', '-cr', host.data], scratch('ns'), host.env),
    };
    for (const impl of ['real', 'ours'] as const) {
      const r = runs[impl];
      assert.equal(r.code, 0, `${impl}: ${r.stderr}`);
      assert.equal(r.stderr, '', `${impl} writes nothing to stderr with -l`);
      assertCsync2Header(r.messages, r.messages[0]?.pid);
    }
    assert.deepEqual(runs.ours.messages.map(shape), runs.real.messages.map(shape));
    const [dirty, closed, finished] = [
      runs.ours.messages.find((m) => body(m) === `Marking file as dirty: ${host.data}/a.txt`),
      runs.ours.messages.find((m) => body(m) === 'Connection closed.'),
      runs.ours.messages.find((m) => body(m) === 'Finished with 0 errors.'),
    ];
    assert.equal(dirty?.severity, SEVERITY.info, 'level 1 is LOG_INFO');
    assert.equal(closed?.severity, SEVERITY.info);
    assert.equal(finished?.severity, SEVERITY.warning, 'level 0 is LOG_WARNING');
    assert.notEqual(runs.ours.messages[0]!.pid, process.pid);
  });

  test('-l -vv: level 2 lines are LOG_DEBUG; our default socket is /dev/log', async () => {
    const host = localHost();
    const r = await runWithDevLog([...implCommand('ours'), ...host.args('db'), '-l', '-vv', '-cr', host.data], scratch('ns'), host.env);
    assert.equal(r.code, 0, r.stderr);
    assertCsync2Header(r.messages, r.messages[0]?.pid);
    const checking = r.messages.find((m) => body(m) === `Checking ${host.data}/sub/b.txt.`);
    assert.equal(checking?.severity, SEVERITY.debug, r.messages.map((m) => m.raw).join('\n'));
  });

  test('-l -t -s FILE: TIMESTAMP / TOTALTIME on stderr and in FILE as csync2 writes them; -s names the syslog pid', async () => {
    const host = localHost();
    const out: Record<Impl, { run: DevLogRun; stamps: string }> = {} as never;
    for (const impl of ['real', 'ours'] as const) {
      const stampFile = join(host.root, `stamps-${impl}.txt`);
      const run = await runWithDevLog([...implCommand(impl), ...host.args(`db-${impl}`), '-l', '-t', '-s', stampFile, '-v', '-cr', host.data],
        scratch('ns'), host.env);
      assert.equal(run.code, 0, `${impl}: ${run.stderr}`);
      out[impl] = { run, stamps: readFileSync(stampFile, 'latin1') };
    }
    for (const impl of ['real', 'ours'] as const) {
      const { run, stamps } = out[impl];
      // -s: `<pid> TIMESTAMP: ...` at start and end, then TOTALTIME; the pid is the process's, as in syslog.
      assert.match(stamps, /^<(\d+)> TIMESTAMP: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(GMT[+-]\d{4}\)\n<\1> TIMESTAMP: .*\n<\1> TOTALTIME: 0:00:0\d\n$/, impl);
      assertCsync2Header(run.messages, Number(/^<(\d+)>/.exec(stamps)![1]));
      // With -l the messages go to syslog without the [HH:MM:SS] prefix; the TIMESTAMP lines stay on stderr.
      for (const m of run.messages) assert.doesNotMatch(body(m), /^\[\d\d:|TIMESTAMP|TOTALTIME/, `${impl}: ${m.raw}`);
      assert.match(run.stderr, /^TIMESTAMP: .*\nTIMESTAMP: .*\nTOTALTIME: 0:00:0\d\n$/, impl);
    }
    assert.equal(normaliseTimes(out.ours.run.stderr), normaliseTimes(out.real.run.stderr));
    assert.equal(normaliseTimes(out.ours.stamps), normaliseTimes(out.real.stamps));
    assert.deepEqual(out.ours.run.messages.map(shape), out.real.run.messages.map(shape));
  });

  test('-t without -l: [HH:MM:SS] prefixes and TIMESTAMP / TOTALTIME lines on stderr, as csync2 prints them', async () => {
    const host = localHost();
    const stderr: Record<Impl, string> = { real: '', ours: '' };
    for (const impl of ['real', 'ours'] as const) {
      const r = await runWithDevLog([...implCommand(impl), ...host.args(`db-${impl}`), '-t', '-v', '-cr', host.data], scratch('ns'), host.env);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.messages, [], `${impl}: nothing goes to syslog without -l`);
      stderr[impl] = r.stderr;
    }
    assert.match(stderr.ours, /^TIMESTAMP: .*\n\[\d\d:\d\d:\d\d\] Marking file as dirty: /);
    assert.equal(normaliseTimes(stderr.ours), normaliseTimes(stderr.real));
  });
});

describe('the client (-x) with -l', () => {
  test('ours pushing to our daemon: its -v lines go to the socket as LOCAL0 info / warning, none to stderr', async () => {
    const cluster = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
    const catcher = await catchDatagrams(join(cluster.root, 'log.sock'));
    try {
      const [client, server] = cluster.hosts as [TestHost, TestHost];
      await server.startDaemon();
      await client.write('a.txt', 'one\n');
      const push = await client.run(['-x', '-l', '-v'], { env: { CSYNC2_SYSLOG_SOCKET: catcher.path } });
      assert.equal(push.code, 0, formatRun(push));
      assert.equal(push.stderr.toString('latin1'), '', 'with -l nothing goes to stderr');
      const messages = await catcher.waitFor((ms) => ms.some((m) => body(m) === 'Finished with 0 errors.'));
      assertCsync2Header(messages, messages[0]!.pid);
      const find = (re: RegExp): SyslogMessage | undefined => messages.find((m) => re.test(body(m)));
      assert.equal(find(new RegExp(`^Connecting to host ${server.name} \\(SSL\\) \\.\\.\\.$`))?.severity, SEVERITY.info,
        messages.map((m) => m.raw).join('\n'));
      assert.equal(find(/^Updating %data%\/a\.txt on /)?.severity, SEVERITY.info);
      assert.equal(find(/^Finished with 0 errors\.$/)?.severity, SEVERITY.warning);
    } finally {
      await cluster.cleanup();
      await catcher.close();
    }
  });
});

/** Client (host 1, real csync2) and daemon host (host 2) for the session tests. */
async function sessionCluster(): Promise<{ cluster: Cluster; client: TestHost; server: TestHost }> {
  const cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'ours' }] });
  return { cluster, client: cluster.hosts[0]!, server: cluster.hosts[1]! };
}

/** Messages of a daemon session in comparable form: the cluster's addresses, ports and certificate replaced. */
function sessionShape(m: SyslogMessage): string {
  return shape(m)
    .replace(/^(\d+\.\d+ csync2: )<\d+> /, '$1<SID> ')
    .replace(/127\.\d+\.\d+\.(\d+)/g, '127.X.Y.$1')
    .replace(/(New connection from [\d.XY]+|Listening on [\d.XY]+):\d+/, '$1:PORT')
    .replace(/certificate to db: [0-9A-F]+/, 'certificate to db: HEX');
}

describe('daemon sessions log to syslog', () => {
  test('-iii -l -v: one session, the same messages as the real daemon (header pid = the daemon, no prefix)', async () => {
    const shapes: Record<Impl, string[]> = { real: [], ours: [] };
    for (const impl of ['real', 'ours'] as const) {
      const { cluster, client, server } = await sessionCluster();
      try {
        await client.write('index.html', 'hello\n');
        const daemon = startWithDevLog([...implCommand(impl), ...server.baseArgs(), '-iii', '-l', '-v'], scratch('ns'), server.env());
        const deadline = Date.now() + 10_000;
        while (!(await isListening(server.name, server.port))) {
          assert.ok(Date.now() < deadline, `${impl} -iii did not listen`);
          await sleep(10);
        }
        const push = await client.run(['-xv']);
        const run = await daemon.done;
        assert.equal(push.code, 0, `${impl}: ${formatRun(push)}\n${run.stderr}`);
        assert.equal(run.code, 0, `${impl} daemon: ${run.stderr}`);
        assertCsync2Header(run.messages, run.messages[0]?.pid);
        assert.ok(run.messages.some((m) => m.severity === SEVERITY.info && /^New connection from /.test(body(m))),
          `${impl}: ${run.messages.map((m) => m.raw).join('\n')}`);
        shapes[impl] = run.messages.map(sessionShape);
      } finally {
        await cluster.cleanup();
      }
    }
    assert.deepEqual(shapes.ours, shapes.real);
  });

  test('-iii -t -v without -l: session lines `[HH:MM:SS] <pid> text` and `<pid> TIMESTAMP` on stderr, as the real daemon', async () => {
    const stderr: Record<Impl, string> = { real: '', ours: '' };
    for (const impl of ['real', 'ours'] as const) {
      const { cluster, client, server } = await sessionCluster();
      try {
        await client.write('index.html', 'hello\n');
        const daemon = await server.startDaemon({ impl, mode: '-iii', extraArgs: ['-t'] });
        const push = await client.run(['-x']);
        const run = await daemon.exited;
        assert.equal(push.code, 0, formatRun(push));
        assert.equal(run.code, 0, formatRun(run));
        const pid = String(daemon.pid);
        stderr[impl] = run.stderr.toString('latin1');
        assert.ok(stderr[impl].includes(`] <${pid}> New connection from ${client.name}:`), `${impl}: ${stderr[impl]}`);
        stderr[impl] = normaliseTimes(stderr[impl].replaceAll(`<${pid}> `, '<PID> '))
          .replace(/127\.\d+\.\d+\.(\d+)/g, '127.X.Y.$1')
          .replace(/(New connection from [\d.XY]+|Listening on [\d.XY]+):\d+/g, '$1:PORT')
          .replace(/certificate to db: [0-9A-F]+/, 'certificate to db: HEX');
      } finally {
        await cluster.cleanup();
      }
    }
    assert.match(stderr.ours, /^<PID> TIMESTAMP: DATE$/m);
    assert.match(stderr.ours, /^<PID> TOTALTIME: H:MM:SS$/m);
    assert.equal(stderr.ours, stderr.real);
  });

  test('-ii -l -t -v (ours): header pid = the daemon, each session\'s lines start with its own `<id> `', async () => {
    const { cluster, client, server } = await sessionCluster();
    const catcher = await catchDatagrams(join(cluster.root, 'log.sock'));
    try {
      const daemon = await server.startDaemon({ impl: 'ours', extraArgs: ['-l', '-t'], env: { CSYNC2_SYSLOG_SOCKET: catcher.path } });
      await client.write('a.txt', 'one\n');
      assert.equal((await client.run(['-x'])).code, 0);
      await client.write('a.txt', 'two, longer\n'); // another size: a change within the same second
      assert.equal((await client.run(['-x'])).code, 0);
      const messages = await catcher.waitFor((ms) => ms.filter((m) => body(m).endsWith('Finished with 0 errors.')).length >= 2);
      assertCsync2Header(messages, daemon.pid);
      // The daemon's own line before any session; everything after it belongs to a session.
      assert.match(body(messages[0]!), /^Listening on /);
      const sessions = new Set<string>();
      for (const m of messages.slice(1)) {
        const sid = /^<(\d+)> /.exec(body(m))?.[1];
        assert.ok(sid, `a session line starts with <id>: ${m.raw}`);
        sessions.add(sid);
        assert.doesNotMatch(body(m), /^<\d+> \[\d\d:/, 'no [HH:MM:SS] inside syslog text');
      }
      assert.equal(sessions.size, 2, `two sessions, two ids: ${[...sessions].join(', ')}`);
      const connects = messages.filter((m) => /^<\d+> New connection from /.test(body(m)));
      assert.equal(connects.length, 2);
      for (const m of connects) assert.equal(m.severity, SEVERITY.info);
      assert.ok(messages.some((m) => m.severity === SEVERITY.info && /^<\d+> Updated %data%\/a\.txt from /.test(body(m))),
        messages.map((m) => m.raw).join('\n'));
      assert.doesNotMatch(daemon.stderr().toString('latin1'), /Updated|New connection/, 'messages do not also go to stderr');
    } finally {
      await cluster.cleanup();
      await catcher.close();
    }
  });

  test('-i -l (inetd style, one process per connection): each session has its own pid, no prefix', async () => {
    const { cluster, client, server } = await sessionCluster();
    const catcher = await catchDatagrams(join(cluster.root, 'log.sock'));
    const activated = await activate(cluster, server, 'accept', [process.execPath, OUR_ENTRY, ...server.baseArgs(), '-i', '-l', '-v'],
      server.env({ CSYNC2_SYSLOG_SOCKET: catcher.path }));
    try {
      await client.write('a.txt', 'one\n');
      assert.equal((await client.run(['-x'])).code, 0, activated.output());
      await client.write('a.txt', 'two, longer\n');
      assert.equal((await client.run(['-x'])).code, 0, activated.output());
      const messages = await catcher.waitFor((ms) => ms.filter((m) => body(m) === 'Finished with 0 errors.').length >= 2);
      assertCsync2Header(messages);
      const pids = new Set(messages.map((m) => m.pid));
      assert.equal(pids.size, 2, `two processes: ${messages.map((m) => m.raw).join('\n')}`);
      for (const m of messages) assert.doesNotMatch(body(m), /^<\d+> /, m.raw);
      assert.ok(messages.some((m) => m.severity === SEVERITY.info && body(m) === `Updated %data%/a.txt from ${client.name}.`),
        messages.map((m) => m.raw).join('\n'));
    } finally {
      await activated.stop();
      await cluster.cleanup();
      await catcher.close();
    }
  });
});

