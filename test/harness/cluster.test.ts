// The multi-host harness itself, proven with the real csync2 on every host (TLS on).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import {
  DaemonStartError, REAL_CSYNC2, RunTimeoutError, createCluster, diffTrees, processesMentioning,
  implCommand, syncOnce, type Cluster,
} from '../helpers/index.js';

describe('two real hosts over TLS', () => {
  let cluster: Cluster;
  after(() => cluster?.cleanup());

  test('-xv on A replicates files, a directory and a symlink to B', async () => {
    cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }] });
    const [a, b] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0]];
    assert.notEqual(a.name, b.name);
    await a.write('f1.txt', 'hello\n');
    await a.write('secret', 'only me\n', 0o600);
    await a.mkdir('dir/sub', 0o750);
    await a.write('dir/sub/deep.bin', Buffer.from([0, 1, 2, 255]));
    await a.symlink('f1.txt', 'link');
    await a.setMtime('f1.txt', 1_700_000_000);

    const r = await syncOnce(a, b);
    assert.ok(r.ok, r.text);
    assert.deepEqual(r.connected, [true]);
    assert.match(r.client.stderr.toString(), /Finished with 0 errors/, r.text);

    const snapA = await a.treeSnapshot();
    const snapB = await b.treeSnapshot();
    assert.deepEqual(diffTrees(snapA, snapB), [], r.text);
    assert.deepEqual(snapB.map((e) => e.path), ['', 'dir', 'dir/sub', 'dir/sub/deep.bin', 'f1.txt', 'link', 'secret']);
    assert.equal(snapB.find((e) => e.path === 'f1.txt')?.mtime, 1_700_000_000);
    assert.equal(snapB.find((e) => e.path === 'secret')?.mode, 0o600);
    assert.equal(snapB.find((e) => e.path === 'link')?.target, 'f1.txt');
  });

  test('both databases agree and no file is left dirty', async () => {
    const [a, b] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0]];
    assert.deepEqual(await a.dump('dirty'), []);
    assert.deepEqual(await b.dump('dirty'), []);
    const filesA = await a.dump('file');
    assert.equal(filesA.length, 7);
    assert.ok(filesA.some(([name]) => name === '%25data%25/f1.txt'), JSON.stringify(filesA));
    assert.deepEqual(await b.dump('file'), filesA);
  });

  test('each x509_cert table pins the other host\'s certificate', async () => {
    const [a, b] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0]];
    const certA = await a.certificateHex();
    const certB = await b.certificateHex();
    assert.notEqual(certA, certB);
    assert.deepEqual(await a.dump('x509_cert'), [[b.name, certB]]);
    assert.deepEqual(await b.dump('x509_cert'), [[a.name, certA]]);
  });

  test('a later round with nothing dirty releases the one-shot daemon', async () => {
    const [a, b] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0]];
    const r = await syncOnce(a, b);
    assert.equal(r.client.code, 0, r.text);
    assert.deepEqual(r.connected, [false]);
    assert.equal(r.ok, false);
    assert.equal(r.server.code, 0, r.text);
  });
});

describe('three real hosts, one of them a slave', () => {
  let cluster: Cluster;
  after(() => cluster?.cleanup());

  test('a master pushes to both peers; a slave\'s change is refused and then overwritten', async () => {
    cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }, { impl: 'real', slave: true }] });
    const [a, b, s] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0], typeof cluster.hosts[0]];
    const config = await (await import('node:fs/promises')).readFile(`${s.sysDir}/csync2.cfg`, 'utf8');
    assert.match(config, new RegExp(`host \\(${s.name.replace(/\./g, '\\.')}\\);`));

    await a.write('f1', 'from master\n');
    await a.mkdir('d');
    await a.write('d/g', 'g\n');
    let r = await syncOnce(a, [b, s]);
    assert.ok(r.ok, r.text);
    const snapA = await a.treeSnapshot();
    assert.deepEqual(diffTrees(snapA, await b.treeSnapshot()), [], r.text);
    assert.deepEqual(diffTrees(snapA, await s.treeSnapshot()), [], r.text);

    await s.write('f1', 'slave change\n');
    r = await syncOnce(s, [a, b]);
    assert.equal(r.client.code, 1, r.text);
    assert.match(r.client.stderr.toString(), /File stays in dirty state/, r.text);
    assert.equal((await a.read('f1')).toString(), 'from master\n');
    assert.equal((await b.read('f1')).toString(), 'from master\n');
    // The masters marked the file to be pushed back to the slave.
    assert.ok((await a.dump('dirty')).some(([f, , , peer]) => f === '%25data%25/f1' && peer === s.name));

    r = await syncOnce(a, [b, s]);
    assert.equal(r.client.code, 0, r.text);
    assert.match(r.client.stderr.toString(), /Won 'master\/slave' test/, r.text);
    assert.equal((await s.read('f1')).toString(), 'from master\n');
    assert.deepEqual(diffTrees(await a.treeSnapshot(), await s.treeSnapshot()), [], r.text);
  });
});

describe('process hygiene', () => {
  test('cleanup stops daemons and leaves no process or file behind', async () => {
    const cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }], tls: false });
    const daemons = await Promise.all(cluster.hosts.map((h) => h.startDaemon()));
    assert.ok(daemons.every((d) => d.running));
    // A -ii daemon forks one session per connection: make one so there is a child in the group.
    const [a, b] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0]];
    await a.write('x', 'x\n');
    const r = await a.run(['-xv']);
    assert.equal(r.code, 0, `${r.stderr}`);
    assert.equal((await b.read('x')).toString(), 'x\n');
    assert.ok((await processesMentioning(cluster.root)).length >= 2);

    await cluster.cleanup();
    assert.deepEqual(await processesMentioning(cluster.root), []);
    assert.ok(daemons.every((d) => !d.running));
    assert.equal(existsSync(cluster.root), false);
  });

  test('a run that hangs is killed at its time limit', async () => {
    const cluster = await createCluster({ hosts: [{ impl: 'real' }] });
    try {
      const started = Date.now();
      // A one-shot daemon waits forever for a connection that never comes.
      await assert.rejects(cluster.hosts[0]!.run(['-iii'], { timeoutMs: 300 }), (err: unknown) => {
        assert.ok(err instanceof RunTimeoutError);
        assert.equal(err.result.signal, 'SIGKILL');
        return true;
      });
      assert.ok(Date.now() - started < 5000);
      assert.deepEqual(await processesMentioning(cluster.root), []);
    } finally {
      await cluster.cleanup();
    }
  });

  test('a daemon that cannot start reports its exit and stderr', async () => {
    const cluster = await createCluster({ hosts: [{ impl: 'real' }] });
    try {
      const host = cluster.hosts[0]!;
      // (A broken config would not do: a daemon reads its config per connection.)
      await assert.rejects(host.startDaemon({ extraArgs: ['-Z'] }), (err: unknown) => {
        assert.ok(err instanceof DaemonStartError);
        assert.equal(err.result.code, 1);
        assert.match(err.message, /invalid option -- 'Z'/);
        return true;
      });
    } finally {
      await cluster.cleanup();
    }
  });

  test('run() puts -N/-D/-p first and picks the implementation per call', async () => {
    const cluster = await createCluster({ hosts: [{ impl: 'real' }] });
    try {
      const host = cluster.hosts[0]!;
      const args = ['-cr', host.dataDir];
      const real = await host.run(args);
      assert.deepEqual(real.argv, [REAL_CSYNC2, '-N', host.name, '-D', host.dbDir, '-p', String(host.port), ...args]);
      assert.equal(real.code, 0, real.stderr.toString());
      assert.ok(existsSync(host.dbPath()));
      const ours = await host.run(args, { impl: 'ours' });
      assert.deepEqual(ours.argv, [...implCommand('ours'), '-N', host.name, '-D', host.dbDir, '-p', String(host.port), ...args]);
    } finally {
      await cluster.cleanup();
    }
  });
});

test('connect() talks to a daemon from the client host\'s address', async () => {
  const cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }], tls: false });
  try {
    const [a, b] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0]];
    const daemon = await b.startDaemon();
    const socket = await a.connect(b);
    assert.equal(socket.localAddress, a.name);
    let buffered = '';
    const reply = (line: string): Promise<string> => new Promise((resolve) => {
      const onData = (d: Buffer): void => {
        buffered += d.toString('latin1');
        const nl = buffered.indexOf('\n');
        if (nl < 0) return;
        socket.off('data', onData);
        resolve(buffered.slice(0, nl + 1));
        buffered = buffered.slice(nl + 1);
      };
      socket.on('data', onData);
      socket.write(line);
    });
    assert.equal(await reply('CONFIG \n'), 'OK (cmd_finished).\n');
    assert.equal(await reply(`HELLO ${a.name}\n`), 'OK (cmd_finished).\n');
    assert.equal(await reply('HELLO 127.0.0.1\n'), 'Identification failed!\n');
    socket.end('BYE\n');
    assert.ok(daemon.running);
  } finally {
    await cluster.cleanup();
  }
});

test('clusters created at the same time get distinct addresses and ports', async () => {
  const clusters = await Promise.all([1, 2, 3].map(() => createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }] })));
  try {
    const names = clusters.flatMap((c) => c.hosts.map((h) => h.name));
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.every((n) => /^127\.\d+\.\d+\.[12]$/.test(n) && !n.startsWith('127.0.')));
    for (const c of clusters) assert.ok(c.port >= 1024 && c.port < 32768 && c.port !== 30865);
  } finally {
    await Promise.all(clusters.map((c) => c.cleanup()));
  }
});
