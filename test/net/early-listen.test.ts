/**
 * A standalone daemon listens before the bulk of csync2-ts loads (net/early-listen.ts): which
 * command lines take that path, and that a connection accepted early is served like any other.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { plainDaemonArgs } from '../../src/net/early-listen.js';
import { createCluster, sleep, type Cluster, type TestHost } from '../helpers/index.js';
import { isListening } from '../helpers/net.js';
import { RawPeer } from '../server/raw.js';

describe('early listening of a standalone daemon', () => {
  it('takes only command lines whose meaning is certain', () => {
    assert.deepEqual(plainDaemonArgs(['-ii']), { name: null, port: 30865 });
    assert.deepEqual(plainDaemonArgs(['-iii', '-N', '127.0.0.2', '-p', '31000', '-D', '/db', '-vv']),
      { name: '127.0.0.2', port: 31000 });
    assert.deepEqual(plainDaemonArgs(['-iivN', 'Host.Example', '-p31001', '-C', 'cfg', '-t']),
      { name: 'host.example', port: 31001 });
    assert.deepEqual(plainDaemonArgs(['-i', '-i']), { name: null, port: 30865 });
    for (const argv of [
      ['-i'], ['-iiii'], ['-ii', '-x'], ['-ii', '-p', 'csync2'], ['-ii', '-p', '70000'], ['-ii', 'file'],
      ['-ii', '--'], ['-ii', '--help'], ['-ii', '-N'], ['-ii', '-l'], ['-ii', '-N', 'h\u00e9'], [],
    ]) {
      assert.equal(plainDaemonArgs(argv), null, JSON.stringify(argv));
    }
  });

  describe('a connection accepted while the daemon still loads', () => {
    let cluster: Cluster;
    let client: TestHost;
    let server: TestHost;
    before(async () => {
      cluster = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
      [client, server] = cluster.hosts as [TestHost, TestHost];
    });
    after(() => cluster.cleanup());

    for (const mode of ['-iii', '-ii']) {
      it(`is served (${mode})`, async (t) => {
        const daemon = server.spawn([mode, '-v']);
        const deadline = Date.now() + 10_000;
        while (!(await isListening(server.name, server.port))) {
          assert.ok(daemon.running && Date.now() < deadline, 'the daemon never listened');
          await sleep(2);
        }
        const peer = await RawPeer.open(client, server);
        const bannerAtConnect = daemon.stdout().toString('latin1').includes('Waiting for connections');
        t.diagnostic(bannerAtConnect ? 'connected after the banner' : 'connected before the daemon was ready (queued)');
        peer.send('CONFIG \n');
        assert.equal(await peer.line(), 'OK (cmd_finished).');
        peer.send('BYE\n');
        assert.equal(await peer.line(), 'OK (cu_later).');
        peer.destroy();
        if (mode === '-iii') {
          const r = await daemon.exited;
          assert.equal(r.code, 0, r.stderr.toString('latin1'));
        } else {
          await daemon.stop();
        }
        const err = daemon.stderr().toString('latin1');
        assert.equal(err.split('\n').filter((l) => l.startsWith('Listening on ')).length, 1, err);
        assert.ok(err.includes(`Listening on ${server.name}:${server.port} as ${server.name}.`), err);
      });
    }
  });
});
