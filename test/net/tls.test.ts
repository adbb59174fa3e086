/**
 * TLS plumbing: credential errors worded like the real csync2, a client without certificate is
 * refused like GnuTLS refuses it, read-ahead bytes after `SSL` reach the TLS layer, and the server
 * never negotiates TLS 1.3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { Connection } from '../../src/net/connection.js';
import { CERT_FILE, KEY_FILE, certHex, loadTlsCredentials } from '../../src/net/tls.js';
import { SERVER_LINE_MAX } from '../../src/protocol/limits.js';
import { OK_ACTIVATING_SSL } from '../../src/protocol/replies.js';
import { FatalError } from '../../src/util/errors.js';
import { ProcessTracker } from '../helpers/procs.js';
import { HostDirs, makeCert, startRealDaemon } from './realhost.js';

const A = '127.0.10.61';
const B = '127.0.10.62';

/** The real daemon's fatal line for the pem files currently in `etc` (it loads them after `SSL`). */
async function realCredentialError(tracker: ProcessTracker, dirs: HostDirs, port: number): Promise<string> {
  const daemon = await startRealDaemon(tracker, dirs.host(B), port, ['-iii']);
  const sock = net.connect({ host: B, port, localAddress: A });
  sock.on('error', () => {});
  sock.on('data', () => {});
  sock.write('SSL\n');
  const result = await daemon.exited;
  sock.destroy();
  const lines = result.stderr.toString('latin1').trim().split('\n');
  return lines[lines.length - 1]!.replace(/^<\d+> /, '');
}

function ourCredentialError(etc: string): string {
  try {
    loadTlsCredentials(etc);
  } catch (err) {
    assert.ok(err instanceof FatalError);
    return err.message;
  }
  return 'no error';
}

test('credential failures carry the real csync2 text for each case', async () => {
  const dirs = new HostDirs([A, B]);
  const tracker = new ProcessTracker();
  const etc = dirs.host(B).etc;
  const key = join(etc, KEY_FILE);
  const cert = join(etc, CERT_FILE);
  const goodKey = readFileSync(key);
  const goodCert = readFileSync(cert);
  const otherDir = dirs.host(A).etc;
  try {
    assert.equal(ourCredentialError(etc), 'no error');
    const cases: Array<[string, () => void]> = [
      ['key file missing', () => rmSync(key)],
      ['cert file missing', () => rmSync(cert)],
      ['key not PEM', () => writeFileSync(key, 'garbage\n')],
      ['cert not PEM', () => writeFileSync(cert, 'garbage\n')],
      ['key PEM with bad body', () => writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nAAAAbbbbccccdddd\n-----END PRIVATE KEY-----\n')],
      ['cert PEM with bad body', () => writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nAAAAbbbbccccdddd\n-----END CERTIFICATE-----\n')],
      ['key of another certificate', () => copyFileSync(join(otherDir, KEY_FILE), key)],
    ];
    let port = 31060;
    for (const [what, breakIt] of cases) {
      writeFileSync(key, goodKey);
      writeFileSync(cert, goodCert);
      breakIt();
      const ours = ourCredentialError(etc);
      assert.match(ours, /^SSL: failed to use key file .* and\/or certificate file .*: .* \(GNUTLS_E_[A-Z0-9_]+\)$/);
      assert.equal(ours, await realCredentialError(tracker, dirs, port++), what);
    }
  } finally {
    await tracker.stopAll();
    tracker.dispose();
    dirs.cleanup();
  }
});

/** A server Connection on 127.0.10.62 and the raw client socket connected to it. */
async function socketPair(port: number): Promise<{ server: Connection; client: net.Socket; close: () => void }> {
  const listener = net.createServer();
  await new Promise<void>((res) => listener.listen(port, B, res));
  const accepted = new Promise<net.Socket>((res) => listener.once('connection', res));
  const client = net.connect({ host: B, port, localAddress: A });
  const sock = await accepted;
  const server = new Connection(sock, { peerIp: sock.remoteAddress ?? null });
  return { server, client, close: () => { client.destroy(); sock.destroy(); listener.close(); } };
}

test('a client without certificate is refused like GnuTLS does', async () => {
  const dirs = new HostDirs([A, B]);
  const { server, client, close } = await socketPair(31070);
  try {
    client.write('SSL\n');
    assert.equal(await server.readLine(SERVER_LINE_MAX), 'SSL');
    await server.sendLine(OK_ACTIVATING_SSL);
    client.once('data', () => {
      const t = tls.connect({ socket: client, rejectUnauthorized: false });
      t.on('error', () => {});
    });
    await assert.rejects(server.upgradeToTlsServer(loadTlsCredentials(dirs.host(B).etc)),
      (e: unknown) => e instanceof FatalError
        && e.message === 'SSL: handshake failed: Certificate is required. (GNUTLS_E_CERTIFICATE_REQUIRED)');
  } finally {
    close();
    dirs.cleanup();
  }
});

test('a peer that disconnects during the handshake fails the upgrade instead of hanging', async () => {
  const dirs = new HostDirs([A, B]);
  const { server, client, close } = await socketPair(31074);
  try {
    client.write('SSL\n');
    assert.equal(await server.readLine(SERVER_LINE_MAX), 'SSL');
    await server.sendLine(OK_ACTIVATING_SSL);
    client.once('data', () => client.end());
    await assert.rejects(server.upgradeToTlsServer(loadTlsCredentials(dirs.host(B).etc)),
      (e: unknown) => e instanceof FatalError && e.message.startsWith('SSL: handshake failed: '));
  } finally {
    close();
    dirs.cleanup();
  }
});

test('bytes that arrive together with the SSL line are fed to TLS, not lost', async () => {
  const dirs = new HostDirs([A, B]);
  const { server, client, close } = await socketPair(31071);
  try {
    // A TLS client on a pipe we control: its first flight is glued to "SSL\n" in ONE write.
    let first = true;
    let gotOk = false;
    let pending = Buffer.alloc(0);
    const glue: Duplex = new Duplex({
      write(chunk: Buffer, _enc, cb) {
        client.write(first ? Buffer.concat([Buffer.from('SSL\n'), chunk]) : chunk);
        first = false;
        cb();
      },
      read() {},
    });
    client.on('data', (d: Buffer) => {
      if (gotOk) {
        glue.push(d);
        return;
      }
      pending = Buffer.concat([pending, d]);
      const lf = pending.indexOf(10);
      if (lf < 0) return;
      assert.equal(pending.subarray(0, lf).toString(), OK_ACTIVATING_SSL);
      gotOk = true;
      if (pending.length > lf + 1) glue.push(pending.subarray(lf + 1));
    });
    const creds = loadTlsCredentials(dirs.host(A).etc);
    const clientTls = tls.connect({ socket: glue, key: creds.key, cert: creds.cert, rejectUnauthorized: false });
    clientTls.on('error', () => {});

    assert.equal(await server.readLine(SERVER_LINE_MAX), 'SSL');
    for (let i = 0; i < 200 && server.reader.bufferedLength === 0; i++) await new Promise((res) => setTimeout(res, 5));
    assert.ok(server.reader.bufferedLength > 0, 'the ClientHello was read ahead with the SSL line');
    await server.sendLine(OK_ACTIVATING_SSL);
    await server.upgradeToTlsServer(loadTlsCredentials(dirs.host(B).etc));
    assert.equal(server.tls!.getProtocol(), 'TLSv1.2');
    assert.equal(server.peerCertHex(), certHex(readFileSync(join(dirs.host(A).etc, CERT_FILE))));
    clientTls.write('CONFIG \n');
    assert.equal(await server.readLine(SERVER_LINE_MAX), 'CONFIG ');
    await server.sendLine('OK (cmd_finished).');
    const reply = await new Promise<string>((res) => clientTls.once('data', (d: Buffer) => res(d.toString())));
    assert.equal(reply, 'OK (cmd_finished).\n');
    clientTls.destroy();
  } finally {
    close();
    dirs.cleanup();
  }
});

test('the server refuses TLS 1.3-only clients; our client role works with make-cert style 1024-bit keys', async () => {
  const dirs = new HostDirs([A, B]);
  try {
    {
      const { server, client, close } = await socketPair(31072);
      try {
        client.write('SSL\n');
        await server.readLine(SERVER_LINE_MAX);
        await server.sendLine(OK_ACTIVATING_SSL);
        await new Promise((res) => client.once('data', res));
        const creds = loadTlsCredentials(dirs.host(A).etc);
        const t = tls.connect({ socket: client, key: creds.key, cert: creds.cert, rejectUnauthorized: false,
          minVersion: 'TLSv1.3' });
        t.on('error', () => {});
        await assert.rejects(server.upgradeToTlsServer(loadTlsCredentials(dirs.host(B).etc)), FatalError);
      } finally {
        close();
      }
    }
    // 1024-bit RSA keys as `make cert` creates them.
    for (const h of [A, B]) {
      makeCert(dirs.host(h).etc, '/C=AU/ST=Some-State/O=Internet Widgits Pty Ltd', 1024);
    }
    const { server, client, close } = await socketPair(31073);
    try {
      const clientConn = new Connection(client, { peerIp: B });
      await clientConn.sendLine('SSL');
      assert.equal(await server.readLine(SERVER_LINE_MAX), 'SSL');
      await server.sendLine(OK_ACTIVATING_SSL);
      assert.equal(await clientConn.readLine(100), OK_ACTIVATING_SSL);
      await Promise.all([
        server.upgradeToTlsServer(loadTlsCredentials(dirs.host(B).etc)),
        clientConn.upgradeToTlsClient(loadTlsCredentials(dirs.host(A).etc)),
      ]);
      assert.equal(clientConn.peerCertHex(), certHex(readFileSync(join(dirs.host(B).etc, CERT_FILE))));
      assert.equal(server.peerCertHex(), certHex(readFileSync(join(dirs.host(A).etc, CERT_FILE))));
      await clientConn.sendLine('BYE');
      assert.equal(await server.readLine(SERVER_LINE_MAX), 'BYE');
      await clientConn.close();
      assert.equal(await server.readLine(SERVER_LINE_MAX), null);
    } finally {
      close();
    }
  } finally {
    dirs.cleanup();
  }
});
