/**
 * Hostile peers against our daemon, part 2: the byte stream. Over-long lines, bad, huge and
 * negative chunk lengths, corrupt deltas, a connection cut in the middle of a PATCH, the daemon
 * killed in the middle of a PATCH, 200 idle connections. Each ends that session (or gets an
 * error reply), the target file stays as it was, no temp file is left (after the next session
 * for a killed daemon), nothing outside the tree changes, and the daemon keeps serving.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { sleep } from '../helpers/index.js';
import { F, OK, assertStillServing, hostileSetup, type Hostile } from './hostile-setup.js';
import { RawPeer, exchange } from './raw.js';

const DELTA_MAGIC = Buffer.from([0x72, 0x73, 0x02, 0x36]);
const BIG = 1_000_000;

/** A delta that writes `content` as one LITERAL with an 8-byte length (opcode 0x44). */
function literalDelta(content: Buffer): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64BE(BigInt(content.length));
  return Buffer.concat([DELTA_MAGIC, Buffer.from([0x44]), len, content, Buffer.from([0])]);
}

function bigContent(seed: number): Buffer {
  const b = Buffer.alloc(BIG);
  for (let i = 0; i < b.length; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

/** Names of temp files (csync2's `.<base>.XXXXXX`) anywhere in the server's data dir. */
async function tempFiles(h: Hostile): Promise<string[]> {
  const all = await readdir(h.server.dataDir, { recursive: true });
  return all.map(String).filter((p) => /(^|\/)\.[^/]+\.[A-Za-z0-9]{6}$/.test(p));
}

/** Poll until there are no temp files (the daemon cleans up after the session ends). */
async function noTempFilesSoon(h: Hostile): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const left = await tempFiles(h);
    if (left.length === 0) return left;
    await sleep(20);
  }
  return tempFiles(h);
}

describe('hostile peers: the byte stream', () => {
  let h: Hostile;
  let original: Buffer;
  before(async () => {
    h = await hostileSetup();
    original = bigContent(1);
    await h.server.write('big.bin', original, 0o644);
    const c = await h.server.run(['-cI', h.server.path('big.bin')]);
    assert.equal(c.code, 0, c.stderr.toString('latin1'));
  });
  after(() => h.cleanup());

  /** PATCH up to the point where the daemon waits for the delta. */
  async function patchStart(peer: RawPeer, rel: string): Promise<void> {
    peer.send(`PATCH ${h.key} ${F(rel)}`);
    assert.equal(await peer.line(), 'OK (send_data).');
    const sig = await peer.frame();
    assert.ok(sig.length >= 12, 'a signature came');
  }

  async function assertIntact(title: string): Promise<void> {
    assert.ok((await h.server.read('big.bin')).equals(original), `${title}: big.bin changed`);
    assert.equal((await h.server.read('inside.txt')).toString(), 'inside\n', `${title}: inside.txt changed`);
    assert.deepEqual(await noTempFilesSoon(h), [], `${title}: temp files left`);
    assert.ok(h.daemon.running, `${title}: the daemon died`);
  }

  it('over-long lines end the session (first line and command lines); 16382 bytes + LF still fit', async () => {
    const { client, server } = h;
    const first = await RawPeer.open(client, server);
    first.send(Buffer.from('C'.repeat(20_000)));
    assert.ok(await first.closed(), 'the daemon closed the connection');
    first.destroy();

    const fits = await h.session();
    assert.deepEqual(await exchange(fits, ['X'.repeat(16_382)]), ['Unknown command!']);
    fits.send(Buffer.from('Y'.repeat(16_383) + '\n'));
    assert.equal(await fits.line(), null, 'no reply');
    assert.ok(await fits.closed());
    fits.destroy();

    const endless = await h.session();
    endless.send(Buffer.from(`MKDIR ${h.key} ${F('x'.repeat(40_000))}`));
    assert.ok(await endless.closed());
    endless.destroy();
    assert.match(h.log(), /Received line too long for buffer size \(16384\), giving up\./);
    assert.equal(await server.stat('x'.repeat(200)), null);
    h.counts.run += 4;
    h.counts.safe += 4;
    await assertIntact('over-long');
  });

  it('bad, huge and negative chunk lengths: an error reply or the end of the session, the target intact', async () => {
    for (const [header, ends] of [['octet-stream abc', true], ['octet-stream 99999999999999999999', true], ['garbage', true],
      ['octet-stream -5', false], ['ERROR', false], ['octet-stream -1', false]] as const) {
      const peer = await h.session();
      await patchStart(peer, 'big.bin');
      peer.send(header);
      if (ends) {
        assert.equal(await peer.line(), null, `${header}: no reply`);
        assert.ok(await peer.closed(), `${header}: session ended`);
      } else {
        assert.equal(await peer.line(), 'Input/output error', header);
        assert.deepEqual(await exchange(peer, ['BYE']), ['OK (cu_later).'], `${header}: the session goes on`);
      }
      peer.destroy();
      h.counts.run++;
      await assertIntact(header);
      h.counts.safe++;
    }
    assert.match(h.log(), /Format-error while receiving data\./);
  });

  it('corrupt deltas end the session with an error, the target intact, no temp file', async () => {
    const off = Buffer.alloc(8);
    off.writeBigUInt64BE(BigInt(BIG - 10));
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(100n);
    const copyOutside = Buffer.concat([DELTA_MAGIC, Buffer.from([0x54]), off, len, Buffer.from([0])]);
    const cases: [string, Buffer][] = [
      ['bad magic', Buffer.from('junk!junk!')],
      ['reserved opcode', Buffer.concat([DELTA_MAGIC, Buffer.from([0x55, 0])])],
      ['COPY beyond the basis', Buffer.concat([DELTA_MAGIC, Buffer.from([0x54]), Buffer.alloc(7), Buffer.from([0x0f, 0x42, 0x40]), Buffer.alloc(7), Buffer.from([0x10, 0])])],
      ['COPY past the end of the basis', copyOutside],
      ['no END command', Buffer.concat([DELTA_MAGIC, Buffer.from([0x03]), Buffer.from('abc')])],
      ['LITERAL longer than the frame', Buffer.concat([DELTA_MAGIC, Buffer.from([0x42, 0xff, 0xff]), Buffer.from('short')])],
    ];
    for (const [title, delta] of cases) {
      const peer = await h.session();
      await patchStart(peer, 'big.bin');
      peer.send(Buffer.concat([Buffer.from(`octet-stream ${delta.length}\n`), delta]));
      assert.equal(await peer.line(), 'Input/output error', title);
      assert.ok(await peer.closed(), `${title}: the session ends`);
      peer.destroy();
      h.counts.run++;
      await assertIntact(title);
      h.counts.safe++;
    }
    assert.match(h.log(), /%data%\/big\.bin from [0-9.]+: corrupt delta \(/);
  });

  it('a connection cut in the middle of a PATCH leaves the target intact and no temp file', async () => {
    const delta = literalDelta(bigContent(2));
    for (const cut of [20, delta.length >> 1, delta.length - 1]) {
      const peer = await h.session();
      await patchStart(peer, 'big.bin');
      peer.send(Buffer.concat([Buffer.from(`octet-stream ${delta.length}\n`), delta.subarray(0, cut)]));
      await sleep(50);
      peer.destroy();
      h.counts.run++;
      await assertIntact(`cut after ${cut} bytes`);
      h.counts.safe++;
    }
    // A full PATCH after that works (and there is still no temp file).
    const peer = await h.session();
    await patchStart(peer, 'inside.txt');
    const content = Buffer.from('patched by a raw peer\n');
    const d = literalDelta(content);
    peer.send(Buffer.concat([Buffer.from(`octet-stream ${d.length}\n`), d]));
    assert.equal(await peer.line(), OK);
    // The received file goes in place with the client's SETIME for it, or before any
    // later command that is not about it: at the latest before BYE is answered.
    assert.deepEqual(await exchange(peer, ['BYE']), ['OK (cu_later).']);
    peer.destroy();
    assert.ok((await h.server.read('inside.txt')).equals(content));
    await h.server.write('inside.txt', 'inside\n', 0o644);
    assert.deepEqual(await tempFiles(h), []);
  });

  it('a session stalled in the middle of a PATCH holds no database lock: a local check and a push go on', async () => {
    const peer = await h.session();
    try {
      await patchStart(peer, 'big.bin');
      const d = literalDelta(bigContent(3));
      peer.send(Buffer.concat([Buffer.from(`octet-stream ${d.length}\n`), d.subarray(0, d.length >> 1)]));
      await sleep(1500); // past the daemon's idle commit
      await h.server.write('checked-meanwhile.txt', 'local change\n', 0o644);
      const r = await h.server.run(['-cr', h.server.path('')], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr.toString('latin1'));
      assert.doesNotMatch(r.stderr.toString('latin1'), /locked|busy/i);
      assert.equal((await h.server.sql(`SELECT count(*) FROM file WHERE filename LIKE '%checked-meanwhile.txt'`))[0]?.[0], '1',
        'the local check recorded its file');
      await assertStillServing(h, 'stalled-patch');
    } finally {
      peer.destroy();
    }
    await assertIntact('stalled PATCH, then cut');
  });

  it('200 idle connections (100 raw, 100 identified over TLS); a real client still syncs, the idle ones still answer', async () => {
    const { client, server } = h;
    const idle: RawPeer[] = [];
    try {
      for (let i = 0; i < 100; i += 20) {
        idle.push(...await Promise.all(Array.from({ length: 20 }, () => RawPeer.open(client, server))));
      }
      for (let i = 0; i < 100; i += 20) idle.push(...await Promise.all(Array.from({ length: 20 }, () => h.session())));
      await assertStillServing(h, 'idle');
      const last = idle[idle.length - 1]!;
      assert.deepEqual(await exchange(last, [`GETSZ ${h.key} ${F('inside.txt')}`]), ['OK (data_follows).']);
      assert.equal(await last.line(), '7');
      assert.deepEqual(await exchange(idle[0]!, ['CONFIG ', 'BYE']), [OK, 'OK (cu_later).']);
    } finally {
      for (const p of idle) p.destroy();
    }
    h.counts.run += 200;
    h.counts.safe += 200;
  });

  it('the daemon killed in the middle of a PATCH: the target intact; the temp file goes with the next write', async (t) => {
    const { client, server } = h;
    const delta = literalDelta(bigContent(3));
    const peer = await h.session();
    await patchStart(peer, 'big.bin');
    peer.send(Buffer.concat([Buffer.from(`octet-stream ${delta.length}\n`), delta.subarray(0, delta.length >> 1)]));
    await sleep(200);
    process.kill(-h.daemon.pid, 'SIGKILL'); // its process group (our daemon runs there alone)
    await h.daemon.exited;
    peer.destroy();
    assert.ok((await server.read('big.bin')).equals(original), 'big.bin intact');
    const left = await tempFiles(h);
    t.diagnostic(`temp files after SIGKILL: ${JSON.stringify(left)}`);
    // Everything outside the tree is as it was; then a new daemon and a real client's push of big.bin.
    h.daemon = await server.startDaemon({ mode: '-ii', verbose: 1 });
    const pushed = bigContent(4);
    await client.write('big.bin', pushed);
    await assertStillServing(h, 'killed');
    assert.ok((await server.read('big.bin')).equals(pushed), 'the push after the restart arrived');
    assert.deepEqual(await tempFiles(h), [], 'the stale temp file is gone');
    assert.match(h.log(), left.length > 0 ? /Removed stale temp file .*\.big\.bin\.csTemp\./ : /./);
    h.counts.run++;
    h.counts.safe++;
    assert.equal(h.counts.safe, h.counts.run);
    t.diagnostic(`hostile peers (byte stream): ${h.counts.run} cases run, ${h.counts.safe} refused or handled safely`);
  });
});
