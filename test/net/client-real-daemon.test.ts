/**
 * Our client plumbing (connectToPeer + SSL + upgradeClient + CONFIG + HELLO + BYE) against the real
 * csync2 daemon, with TLS and plain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectToPeer } from '../../src/net/connect.js';
import { Connection } from '../../src/net/connection.js';
import { certHex, loadTlsCredentials } from '../../src/net/tls.js';
import { REPLY_LINE_MAX } from '../../src/protocol/limits.js';
import {
  ERR_IDENT_FAILED, ERR_SSL_EXPECTED, OK_ACTIVATING_SSL, OK_CMD_FINISHED, OK_CU_LATER, pleaseIdentify,
} from '../../src/protocol/replies.js';
import { urlEncode } from '../../src/protocol/urlencode.js';
import { ProcessTracker } from '../helpers/procs.js';
import { HostDirs, makeCert, sqlite, startRealDaemon } from './realhost.js';

const A = '127.0.10.11';
const B = '127.0.10.12';

async function clientConnection(port: number): Promise<Connection> {
  const sock = await connectToPeer(B, String(port), { bindName: A });
  return new Connection(sock, { peerIp: sock.remoteAddress ?? null });
}

test('TLS session with the real daemon; it pins our certificate as uppercase DER hex', async () => {
  const dirs = new HostDirs([A, B]);
  const tracker = new ProcessTracker();
  try {
    const port = 31010;
    const daemon = await startRealDaemon(tracker, dirs.host(B), port);
    const conn = await clientConnection(port);
    assert.equal(conn.peerIp, B);
    await conn.sendLine('SSL');
    assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_ACTIVATING_SSL);
    await conn.upgradeToTlsClient(loadTlsCredentials(dirs.host(A).etc));
    assert.ok(conn.usesTls);
    // What our client would pin for the server: the server's own certificate.
    assert.equal(conn.peerCertHex(), certHex(dirs.host(B).certPem));
    await conn.sendLine(`CONFIG ${urlEncode('')}`);
    assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CMD_FINISHED);
    // Commands before HELLO are refused with our address.
    await conn.sendLine('SIG x y');
    assert.equal(await conn.readLine(REPLY_LINE_MAX), pleaseIdentify(A));
    await conn.sendLine(`HELLO ${urlEncode(A)}`);
    assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CMD_FINISHED);
    await conn.sendLine('BYE');
    assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CU_LATER);
    assert.equal(await conn.readLine(REPLY_LINE_MAX), null, 'the daemon closes after BYE');
    await conn.close();
    const result = await daemon.exited;
    assert.equal(result.code, 0, result.stderr.toString());
    const rows = sqlite(dirs.host(B).dbFile, 'SELECT peername, certdata FROM x509_cert');
    const ours = certHex(dirs.host(A).certPem);
    assert.match(ours, /^[0-9A-F]+$/);
    assert.deepEqual(rows, [[A, ours]]);

    // Without SSL the daemon (no nossl rule) refuses the identification.
    const daemon2 = await startRealDaemon(tracker, dirs.host(B), port);
    const plain = await clientConnection(port);
    await plain.sendLine('CONFIG ');
    assert.equal(await plain.readLine(REPLY_LINE_MAX), OK_CMD_FINISHED);
    await plain.sendLine(`HELLO ${A}`);
    assert.equal(await plain.readLine(REPLY_LINE_MAX), ERR_SSL_EXPECTED);
    await plain.sendLine('BYE');
    assert.equal(await plain.readLine(REPLY_LINE_MAX), OK_CU_LATER);
    await plain.close();
    await daemon2.exited;
  } finally {
    await tracker.stopAll();
    tracker.dispose();
    dirs.cleanup();
  }
});

test('a different certificate under a pinned name is refused by the real daemon', async () => {
  const dirs = new HostDirs([A, B]);
  const tracker = new ProcessTracker();
  try {
    const port = 31011;
    const hello = async (): Promise<string | null> => {
      const daemon = await startRealDaemon(tracker, dirs.host(B), port);
      const conn = await clientConnection(port);
      await conn.sendLine('SSL');
      assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_ACTIVATING_SSL);
      await conn.upgradeToTlsClient(loadTlsCredentials(dirs.host(A).etc));
      await conn.sendLine('CONFIG ');
      assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CMD_FINISHED);
      await conn.sendLine(`HELLO ${A}`);
      const reply = await conn.readLine(REPLY_LINE_MAX);
      await conn.sendLine('BYE');
      await conn.readLine(REPLY_LINE_MAX);
      await conn.close();
      await daemon.exited;
      return reply;
    };
    assert.equal(await hello(), OK_CMD_FINISHED);
    makeCert(dirs.host(A).etc, '/C=AU/ST=Some-State/O=Internet Widgits Pty Ltd');
    assert.equal(await hello(), ERR_IDENT_FAILED);
  } finally {
    await tracker.stopAll();
    tracker.dispose();
    dirs.cleanup();
  }
});

test('plain session: HELLO without TLS needs a nossl rule, and unbound clients fail the address check', async () => {
  const dirs = new HostDirs([A, B], { plain: true });
  const tracker = new ProcessTracker();
  try {
    const port = 31012;
    let daemon = await startRealDaemon(tracker, dirs.host(B), port);
    let conn = await clientConnection(port);
    await conn.sendLine('CONFIG ');
    assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CMD_FINISHED);
    await conn.sendLine(`HELLO ${A}`);
    assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CMD_FINISHED);
    await conn.sendLine('BYE');
    assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CU_LATER);
    await conn.close();
    await daemon.exited;

    // Without -N binding the source address is 127.0.0.1, which A does not resolve to.
    daemon = await startRealDaemon(tracker, dirs.host(B), port);
    const sock = await connectToPeer(B, port);
    conn = new Connection(sock, { peerIp: B });
    await conn.sendLine('CONFIG ');
    assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CMD_FINISHED);
    await conn.sendLine(`HELLO ${A}`);
    assert.equal(await conn.readLine(REPLY_LINE_MAX), ERR_IDENT_FAILED);
    await conn.sendLine('BYE');
    await conn.readLine(REPLY_LINE_MAX);
    await conn.close();
    await daemon.exited;
  } finally {
    await tracker.stopAll();
    tracker.dispose();
    dirs.cleanup();
  }
});
