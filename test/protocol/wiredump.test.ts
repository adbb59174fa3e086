/** -vvv wire dump lines: our formatter against the real csync2 daemon's own dump of the same bytes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { WIRE_DUMP_MAX, formatWireDump } from '../../src/protocol/wiredump.js';
import { ProcessTracker } from '../helpers/procs.js';
import { HostDirs, startRealDaemon } from '../net/realhost.js';

const PORT = 31001;

test('formatWireDump escapes like conn_debug()', () => {
  assert.equal(formatWireDump('Local', Buffer.from('OK (cmd_finished).\n')), 'Local> OK (cmd_finished).\\n');
  assert.equal(formatWireDump('Peer', Buffer.from('foo\xc3\xa9\x01\x7f\x80 bar\r\n', 'latin1'), 7533),
    '<7533> Peer> foo\\37777777703\\37777777651\\001\\177\\37777777600 bar\\r\\n');
  assert.equal(formatWireDump('Peer', Buffer.from([0, 9, 31, 32, 126])), 'Peer> \\000\\011\\037 ~');
  const long = formatWireDump('Peer', Buffer.alloc(5000, 0xff), 12);
  assert.equal(long.length, WIRE_DUMP_MAX);
  assert.ok(long.startsWith('<12> Peer> \\37777777777'));
});

test('the real daemon dumps the same text for every byte value (and truncates the same way)', async () => {
  const dirs = new HostDirs(['127.0.10.1', '127.0.10.2'], { plain: true });
  const tracker = new ProcessTracker();
  try {
    const daemon = await startRealDaemon(tracker, dirs.host('127.0.10.2'), PORT, ['-iii', '-vvv']);
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 10));
    const lines = [
      Buffer.from('CONFIG \n'),
      Buffer.concat([Buffer.from('X'), allBytes.subarray(1, 128), Buffer.from('\n')]),
      Buffer.concat([Buffer.from('Y'), allBytes.subarray(128), Buffer.from('\n')]),
      Buffer.concat([Buffer.from('Z'), allBytes, Buffer.from('\n')]),
      Buffer.from('BYE\n'),
    ];
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect({ host: '127.0.10.2', port: PORT, localAddress: '127.0.10.1' }, () => {
        sock.write(Buffer.concat(lines));
      });
      sock.on('data', () => {});
      sock.on('end', () => resolve());
      sock.on('error', reject);
    });
    const result = await daemon.exited;
    const stderr = result.stderr.toString('latin1').split('\n');
    const pid = daemon.pid; // setpriv execs csync2, so the session pid is the one we started
    const peerDumps = stderr.filter((l) => /^<\d+> Peer> /.test(l));
    assert.deepEqual(peerDumps, lines.map((l) => formatWireDump('Peer', l, pid)));
    const localDumps = stderr.filter((l) => /^<\d+> Local> /.test(l));
    assert.ok(localDumps.includes(formatWireDump('Local', Buffer.from('Unknown command!\n'), pid)));
    assert.ok(peerDumps[3]!.length === WIRE_DUMP_MAX, 'the all-bytes line is cut at 1023 characters');
  } finally {
    await tracker.stopAll();
    tracker.dispose();
    dirs.cleanup();
  }
});
