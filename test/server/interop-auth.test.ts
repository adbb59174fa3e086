/**
 * Who may talk to the daemon, against our daemon and a real one (twin.ts): a wrong group key, a
 * wrong source address (a real client whose HELLO name resolves elsewhere, and a raw peer claiming
 * another host's name), a changed client certificate (pinned under its name in x509_cert) and a
 * changed server certificate (pinned by the real client). TLS on.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KEY_FILE, hostCertificate, randomKey, type Impl } from '../helpers/index.js';
import { RawPeer, exchange } from './raw.js';
import { assertClean, settle, twinTest, type Twin } from './twin.js';

/** `-c` first, then `-uvvv`: the wire dump shows the daemon's replies, without the check's scan of /. */
async function checkThenUpdate(t: Twin, key: string) {
  const c = await t.client.run(['-cr', t.client.path('')]);
  assert.equal(c.code, 0, c.stderr.toString('latin1'));
  return t.sync(key, ['-uvvv']);
}

twinTest('a wrong key: every file command is refused with Permission denied!, nothing changes', {}, async (t) => {
  const { client, server } = t;
  await writeFile(join(server.sysDir, KEY_FILE), randomKey(), { mode: 0o600 });
  await client.write('f.txt', 'f\n');
  await client.write('d/g.txt', 'g\n');
  await settle(client);
  const r = await checkThenUpdate(t, 'push');
  assert.equal(r.client.code, 1, r.text);
  const text = r.client.stderr.toString('latin1');
  assert.match(text, /\[\d+\] <- Permission denied!/, r.text);
  assert.deepEqual((await server.treeSnapshot()).map((e) => e.path), ['']);
  assert.equal((await client.dump('dirty')).length, 4, 'every row stays dirty');
  await t.snapshot('push');
});

twinTest('a wrong source address: the HELLO name (host@iface) resolves elsewhere -> Identification failed!', {
  configFor: (host, c) => {
    const iface = c.subnet.address(7);
    const [h1, h2] = c.hosts;
    const hostLines = host.index === 0 ? `\thost ${h1!.name}@${iface};\n\thost ${h2!.name};` : `\thost ${iface};\n\thost ${h2!.name};`;
    return `group test\n{\n${hostLines}\n\tkey ${KEY_FILE};\n\tinclude %data%;\n}\n${c.prefixBlock()}`;
  },
}, async (t) => {
  const { client, server } = t;
  await client.write('f.txt', 'f\n');
  await settle(client);
  const r = await checkThenUpdate(t, 'push');
  assert.equal(r.client.code, 1, r.text);
  assert.match(r.client.stderr.toString('latin1'), /Identification failed!/, r.text);
  assert.equal(await server.stat('f.txt'), null);
  await t.snapshot('push');
});

twinTest('a raw peer claiming another configured host\'s name from its own address is not identified', {
  hosts: (impl: Impl) => [{ impl: 'real' }, { impl }, { impl: 'real' }],
}, async (t) => {
  const { client, server, cluster } = t;
  const other = cluster.hosts[2]!;
  const key = cluster.key.trim();
  const daemon = await server.startDaemon({ mode: '-iii' });
  const peer = await RawPeer.open(client, server, { tls: true });
  const replies = await exchange(peer, [
    'CONFIG ',
    `HELLO ${other.name}`,
    `SIG ${key} %25data%25/x`,
    `HELLO ${client.name}`,
    `GETSZ ${key} %25data%25`,
  ]);
  replies.push(await peer.line());
  peer.send('BYE');
  replies.push(await peer.line());
  peer.destroy();
  const end = await daemon.exited;
  assert.equal(end.code, 0, end.stderr.toString('latin1'));
  assert.deepEqual(replies.slice(0, 4), ['OK (cmd_finished).', 'Identification failed!', `Dear ${client.name}, please identify first.`, 'OK (cmd_finished).']);
  t.note('replies', replies);
  t.note('x509', (await server.dump('x509_cert')).map(([name]) => name));
});

twinTest('a changed client certificate is refused under its pinned name; the pin stays', {}, async (t) => {
  const { client, server } = t;
  await client.write('f.txt', 'v1\n');
  await settle(client);
  assertClean(await t.sync('first'));
  const pinned = await server.dump('x509_cert');
  assert.deepEqual(pinned, [[client.name, await client.certificateHex()]]);
  await client.writeCertificate(hostCertificate(8));
  await client.write('f.txt', 'v2 with another certificate\n');
  const r = await checkThenUpdate(t, 'second');
  assert.equal(r.client.code, 1, r.text);
  assert.match(r.client.stderr.toString('latin1'), /Identification failed!/, r.text);
  assert.equal((await server.read('f.txt')).toString(), 'v1\n');
  assert.deepEqual(await server.dump('x509_cert'), pinned);
  await t.snapshot('second');
});

twinTest('a changed server certificate: the real client refuses to talk (wrong SSL X509 certificate)', {}, async (t) => {
  const { client, server } = t;
  await client.write('f.txt', 'v1\n');
  await settle(client);
  assertClean(await t.sync('first'));
  await server.writeCertificate(hostCertificate(8));
  await client.write('f.txt', 'v2\n');
  const r = await t.sync('second');
  assert.equal(r.client.code, 1, r.text);
  assert.match(r.client.stderr.toString('latin1'), /Peer did provide a wrong SSL X509 cetrificate\./, r.text);
  assert.equal((await server.read('f.txt')).toString(), 'v1\n');
  await t.snapshot('second');
});
