/**
 * The real csync2 client against a small TS server built from listen.ts + tls.ts + the codec,
 * answering SSL / CONFIG / HELLO / LIST / BYE with canned replies: proves the TLS 1.2 server path,
 * that a GnuTLS client sends its certificate to a server advertising no CA names (whatever the
 * certificate's DN), and that the client pins our certificate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from '../../src/net/connection.js';
import { serveOne } from '../../src/net/listen.js';
import { certHex, loadTlsCredentials } from '../../src/net/tls.js';
import { SERVER_LINE_MAX } from '../../src/protocol/limits.js';
import {
  ERR_EXPECT_SSL_CONFIG, ERR_UNKNOWN_COMMAND, OK_ACTIVATING_SSL, OK_CMD_FINISHED, OK_CU_LATER,
} from '../../src/protocol/replies.js';
import { equalsIgnoreCase, tokenizeLine } from '../../src/protocol/tokenize.js';
import { isListening, sleep } from '../helpers/net.js';
import { ProcessTracker } from '../helpers/procs.js';
import { REAL_CSYNC2 } from '../helpers/paths.js';
import { HostDirs, sqlite, type RealHost } from './realhost.js';

const A = '127.0.10.21';
const B = '127.0.10.22';

interface Seen {
  lines: string[];
  certHex: string | null;
  protocol: string | null;
}

/** A canned session: everything the real client sends for `-T` gets an OK. */
function cannedSession(server: RealHost, seen: Seen) {
  return async (conn: Connection): Promise<void> => {
    let tags = tokenizeLine((await conn.readLine(SERVER_LINE_MAX)) ?? '');
    if (tags && equalsIgnoreCase(tags[0]!, 'ssl')) {
      await conn.sendLine(OK_ACTIVATING_SSL);
      await conn.upgradeToTlsServer(loadTlsCredentials(server.etc));
      seen.certHex = conn.peerCertHex();
      seen.protocol = conn.tls!.getProtocol();
      tags = tokenizeLine((await conn.readLine(SERVER_LINE_MAX)) ?? '');
    }
    if (!tags || !equalsIgnoreCase(tags[0]!, 'config')) {
      await conn.sendLine(ERR_EXPECT_SSL_CONFIG);
      return;
    }
    await conn.sendLine(OK_CMD_FINISHED);
    for (;;) {
      const line = await conn.readLine(SERVER_LINE_MAX);
      if (line === null) return;
      seen.lines.push(line);
      const cmd = tokenizeLine(line);
      if (!cmd) continue;
      const name = cmd[0]!.toLowerCase();
      if (name === 'bye') {
        await conn.sendLine(OK_CU_LATER);
        return;
      }
      await conn.sendLine(name === 'hello' || name === 'list' ? OK_CMD_FINISHED : ERR_UNKNOWN_COMMAND);
    }
  };
}

async function runCompare(dnA: string | undefined, port: number, bits?: number): Promise<void> {
  const dirs = new HostDirs([A, B], { ...(dnA ? { dn: { [A]: dnA } } : {}), bits });
  const tracker = new ProcessTracker();
  try {
    const seen: Seen = { lines: [], certHex: null, protocol: null };
    let banner = '';
    const serving = serveOne({ port: String(port), bindName: B, myHostname: B, tapFactory: () => null,
      printBanner: (l) => { banner = l; } }, cannedSession(dirs.host(B), seen));
    while (!(await isListening(B, port))) await sleep(5);
    const a = dirs.host(A);
    const result = await tracker.run([REAL_CSYNC2, '-N', A, '-D', a.db, '-p', String(port), '-T', '-vv'],
      { env: { ...process.env, CSYNC2_SYSTEM_DIR: a.etc }, timeoutMs: 15_000 });
    await serving;
    const stderr = result.stderr.toString('latin1');
    assert.equal(result.code, 2, `in sync -> exit 2\n${stderr}`);
    assert.equal(banner, 'Csync2 daemon running. Waiting for connections.');
    assert.equal(seen.protocol, 'TLSv1.2');
    assert.equal(seen.certHex, certHex(a.certPem), 'the real client sent its certificate');
    assert.deepEqual(seen.lines.map((l) => l.split(' ')[0]), ['HELLO', 'LIST', 'BYE']);
    assert.equal(seen.lines[0], `HELLO ${A}`);
    // The real client pinned our server certificate under the peer name.
    assert.deepEqual(sqlite(a.dbFile, 'SELECT peername, certdata FROM x509_cert'), [[B, certHex(dirs.host(B).certPem)]]);
  } finally {
    await tracker.stopAll();
    tracker.dispose();
    dirs.cleanup();
  }
}

test('real `csync2 -T` talks TLS 1.2 to our server and reports in sync', async () => {
  await runCompare(undefined, 31020);
});

test('the real client sends its certificate even when its DN differs from ours (no CA list)', async () => {
  await runCompare('/CN=host-a-different', 31021);
});

test('1024-bit RSA certificates like `make cert` work with the real client', async () => {
  await runCompare(undefined, 31022, 1024);
});
