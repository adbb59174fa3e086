/**
 * XPATCH, our own extension (src/protocol/replies.ts), on the daemon side: the
 * delta follows the command line without waiting for a reply, so the daemon must
 * read that frame whatever it answers (before HELLO, refused, conflicting,
 * unreadable on the client's side), accept a delta that copies only when it was
 * made against the signature this session's SIG sent of the file as it still is,
 * and end the session on a corrupt one, with the target intact and no temp file left.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, utimes } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { sleep } from '../helpers/index.js';
import { F, OK, DENIED, assertStillServing, hostileSetup, type Hostile } from './hostile-setup.js';
import { RawPeer, exchange } from './raw.js';
import { EXTENSIONS_ALPN, EXTENSIONS_ALPN_V2, EXTENSIONS_ALPN_V3, EXTENSIONS_ALPN_V4, EXTENSIONS_ALPN_V5 } from '../../src/net/tls.js';
import { ERR_BASIS_CHANGED, signatureDigest } from '../../src/protocol/xpatch.js';

const DELTA_MAGIC = Buffer.from([0x72, 0x73, 0x02, 0x36]);

function literalDelta(content: Buffer): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64BE(BigInt(content.length));
  return Buffer.concat([DELTA_MAGIC, Buffer.from([0x44]), len, content, Buffer.from([0])]);
}

function framed(delta: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`octet-stream ${delta.length}\n`), delta]);
}

/** XPATCHS's form: the delta as a run of frames (cut at `cuts`), ended by `octet-stream 0`. */
function chunked(delta: Buffer, cuts: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, delta.length]) {
    if (c > at) parts.push(framed(delta.subarray(at, c)));
    at = c;
  }
  return Buffer.concat([...parts, Buffer.from('octet-stream 0\n')]);
}

/** The server forgets its dirty rows (a test's own change is not to be pushed back). */
function clearDirty(h: Hostile): void {
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', h.server.dbPath(), 'DELETE FROM dirty']);
}

async function tempFiles(h: Hostile): Promise<string[]> {
  const all = await readdir(h.server.dataDir, { recursive: true });
  return all.map(String).filter((p) => /(^|\/)\.[^/]+\.[A-Za-z0-9]{6}$/.test(p));
}

describe('XPATCH on our daemon', () => {
  let h: Hostile;
  before(async () => {
    h = await hostileSetup();
  });
  after(() => h.cleanup());

  /** CONFIG + HELLO over TLS, with csync2-ts's extensions agreed on in the handshake. */
  async function session(): Promise<RawPeer> {
    const peer = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN] });
    assert.equal(peer.alpn, EXTENSIONS_ALPN, 'the daemon agreed on the extensions');
    assert.deepEqual(await exchange(peer, ['CONFIG ', `HELLO ${h.client.name}`]), [OK, OK]);
    return peer;
  }

  /** SIG of `rel`: the signature frame after the checktxt line. */
  async function sigOf(peer: RawPeer, rel: string): Promise<Buffer> {
    peer.send(`SIG ${h.key} ${F(rel)}`);
    return sigReply(peer);
  }

  /** The reply to a SIG: the checktxt line, the signature frame, the final OK. */
  async function sigReply(peer: RawPeer, timeoutMs?: number): Promise<Buffer> {
    assert.equal(await peer.line(), 'OK (data_follows).');
    await peer.line();
    const frame = await peer.frame();
    assert.equal(await peer.line(timeoutMs), OK);
    return frame;
  }

  it('XPATCH exists only for a session that agreed on the extensions in the TLS handshake', async () => {
    const plain = await h.session();
    assert.equal(plain.alpn, false);
    // Without the agreement it is an unknown command like any other: its frame is read as lines.
    plain.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('nope.txt')}\n`), framed(literalDelta(Buffer.from('x\n')))]));
    assert.equal(await plain.line(), 'Unknown command!');
    assert.equal(await plain.line(), 'Unknown command!', 'the frame header line');
    plain.destroy();
    const other = await RawPeer.open(h.client, h.server, { tls: true, alpn: ['http/1.1', EXTENSIONS_ALPN] });
    assert.equal(other.alpn, EXTENSIONS_ALPN);
    other.destroy();
    assert.equal(await h.server.stat('nope.txt'), null);
  });

  it('a new file and a changed file arrive with SETOWN/SETMOD/SETIME after them', async () => {
    const peer = await session();
    const content = Buffer.from('sent by XPATCH\n');
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('new/../new.txt')}\n`), framed(literalDelta(content))]));
    assert.equal(await peer.line(), DENIED, 'a non-canonical name is refused, its frame read');
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('xnew.txt')}\n`), framed(literalDelta(content))]));
    assert.equal(await peer.line(), OK);
    assert.deepEqual(await exchange(peer, [`SETMOD ${h.key} ${F('xnew.txt')} 33188`, `SETIME ${h.key} ${F('xnew.txt')} 1700000000`]), [OK, OK]);
    const changed = Buffer.from('inside, replaced\n');
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('inside.txt')}\n`), framed(literalDelta(changed))]));
    assert.equal(await peer.line(), OK);
    const empty = Buffer.concat([DELTA_MAGIC, Buffer.from([0])]);
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('empty.txt')}\n`), framed(empty)]));
    assert.equal(await peer.line(), OK);
    assert.deepEqual(await exchange(peer, ['BYE']), ['OK (cu_later).']);
    peer.destroy();
    assert.ok((await h.server.read('xnew.txt')).equals(content));
    assert.equal((await h.server.stat('xnew.txt'))!.mtimeMs, 1_700_000_000_000);
    assert.ok((await h.server.read('inside.txt')).equals(changed));
    assert.equal((await h.server.read('empty.txt')).length, 0);
    assert.equal(await h.server.stat('new.txt'), null);
    const rows = (await h.server.dump('file')).map((r) => r[0]);
    assert.ok(rows.includes('%data%/xnew.txt') || rows.some((r) => r!.endsWith('/xnew.txt')), `file row written: ${rows.join(', ')}`);
    await h.server.write('inside.txt', 'inside\n', 0o644);
    const c = await h.server.run(['-cr', h.server.path('')]);
    assert.equal(c.code, 0);
    clearDirty(h);
  });

  it('refused or failed XPATCHes still read their frame: before HELLO, wrong key, excluded, outside, unreadable', async () => {
    const body = framed(literalDelta(Buffer.from('must not arrive\n')));
    const stranger = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN] });
    assert.deepEqual(await exchange(stranger, ['CONFIG ']), [OK]);
    stranger.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('a.txt')}\n`), body]));
    assert.match((await stranger.line())!, /^Dear .*, please identify first\.$/);
    assert.deepEqual(await exchange(stranger, ['BYE']), ['OK (cu_later).'], 'the frame was not taken for commands');
    stranger.destroy();

    const peer = await session();
    for (const [name, key] of [['a.txt', 'wrongkey'], ['excluded/keep.txt', h.key], ['escape/victim.txt', h.key]] as const) {
      peer.send(Buffer.concat([Buffer.from(`XPATCH ${key} ${F(name)}\n`), body]));
      assert.equal(await peer.line(), DENIED, name);
    }
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('b.txt')}\n`), Buffer.from('octet-stream -1\n')]));
    assert.equal(await peer.line(), 'Input/output error', 'the client could not read its file');
    // A frame whose payload holds command lines is data, never commands.
    const sneaky = Buffer.from(`\nDEL ${h.key} ${F('inside.txt')}\n`);
    peer.send(Buffer.concat([Buffer.from(`XPATCH wrongkey ${F('c.txt')}\n`), framed(literalDelta(sneaky))]));
    assert.equal(await peer.line(), DENIED);
    assert.deepEqual(await exchange(peer, ['BYE']), ['OK (cu_later).']);
    peer.destroy();
    for (const name of ['a.txt', 'b.txt', 'c.txt']) assert.equal(await h.server.stat(name), null, name);
    assert.equal((await h.server.read('inside.txt')).toString(), 'inside\n');
    assert.equal((await h.server.read('excluded/keep.txt')).toString(), 'excluded\n');
    await assertStillServing(h, 'xpatch-refused');
  });

  it('a conflict is answered like PATCH and the frame is read', async () => {
    await h.server.write('inside.txt', 'changed on the server\n', 0o644);
    const peer = await session();
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('inside.txt')}\n`), framed(literalDelta(Buffer.from('from the client\n')))]));
    assert.equal(await peer.line(), 'File is also marked dirty here!');
    assert.deepEqual(await exchange(peer, ['BYE']), ['OK (cu_later).']);
    peer.destroy();
    assert.equal((await h.server.read('inside.txt')).toString(), 'changed on the server\n');
    await h.server.write('inside.txt', 'inside\n', 0o644);
    await h.server.run(['-cr', h.server.path('')]);
    clearDirty(h);
  });

  it('with a basis token: the delta may copy from the file the SIG described, and only from that one', async () => {
    const base = Buffer.alloc(10_000, 0x62);
    await h.server.write('based.txt', base, 0o644);
    assert.equal((await h.server.run(['-cI', h.server.path('based.txt')])).code, 0);
    const peer = await session();
    const sig = (): Promise<Buffer> => sigOf(peer, 'based.txt');
    // COPY the first 8000 bytes of the basis (opcode 0x46: 1-byte position, 2-byte length), then "tail".
    const copyAndTail = Buffer.concat([DELTA_MAGIC, Buffer.from([0x46, 0, 0x1f, 0x40, 0x04]), Buffer.from('tail'), Buffer.from([0])]);
    const send = (token: string): void =>
      peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('based.txt')} ${token}\n`), framed(copyAndTail)]));

    const first = signatureDigest(await sig());
    send(first.replace(/^./, (c) => (c === '0' ? '1' : '0')));
    assert.equal(await peer.line(), ERR_BASIS_CHANGED, 'a token of another signature');
    send(first);
    assert.equal(await peer.line(), ERR_BASIS_CHANGED, 'the token was used up by the refused XPATCH');
    const token = signatureDigest(await sig());
    // Rewritten after its SIG (same size, same second): not the basis the delta was made for.
    const st = (await h.server.stat('based.txt'))!;
    await h.server.write('based.txt', Buffer.alloc(10_000, 0x63), 0o644);
    await utimes(h.server.path('based.txt'), st.atime, st.mtime);
    send(token);
    assert.equal(await peer.line(), ERR_BASIS_CHANGED, 'the file changed after its SIG');
    assert.equal((await h.server.read('based.txt'))[0], 0x63);
    await h.server.write('based.txt', base, 0o644);
    assert.equal((await h.server.run(['-cI', h.server.path('based.txt')])).code, 0);
    send(signatureDigest(await sig()));
    assert.equal(await peer.line(), OK);
    assert.deepEqual(await exchange(peer, ['BYE']), ['OK (cu_later).']);
    peer.destroy();
    assert.ok((await h.server.read('based.txt')).equals(Buffer.concat([base.subarray(0, 8000), Buffer.from('tail')])));
    assert.match(h.log(), /based\.txt from [0-9.]+: not the version its SIG described/);
    clearDirty(h);
  });

  it('PATCH after SIG (a real client): the signature SIG sent is sent again while the file is unchanged, a fresh one after a change', async () => {
    await h.server.write('resig.txt', Buffer.alloc(10_000, 0x62), 0o644);
    assert.equal((await h.server.run(['-cI', h.server.path('resig.txt')])).code, 0);
    const peer = await h.session();
    const sig = (): Promise<Buffer> => sigOf(peer, 'resig.txt');
    const patch = async (content: Buffer): Promise<Buffer> => {
      peer.send(`PATCH ${h.key} ${F('resig.txt')}`);
      assert.equal(await peer.line(), 'OK (send_data).');
      const frame = await peer.frame();
      peer.send(framed(literalDelta(content)));
      assert.equal(await peer.line(), OK);
      return frame;
    };
    const first = await sig();
    assert.ok((await patch(Buffer.from('one\n'))).equals(first), 'the same signature again');
    // SIG, then a local rewrite (same size, same mtime): PATCH must describe the new content.
    const before = await sig();
    const st = (await h.server.stat('resig.txt'))!;
    await h.server.write('resig.txt', Buffer.from('two\n'), 0o644);
    await utimes(h.server.path('resig.txt'), st.atime, st.mtime);
    const fresh = await patch(Buffer.from('three\n'));
    assert.ok(!fresh.equals(before), 'not the signature of the old content');
    assert.deepEqual(await exchange(peer, ['BYE']), ['OK (cu_later).']);
    peer.destroy();
    // What PATCH sent is the signature of 'two': a new session's SIG of 'two' says the same.
    await h.server.write('resig.txt', Buffer.from('two\n'), 0o644);
    const again = await h.session();
    assert.ok((await sigOf(again, 'resig.txt')).equals(fresh), 'PATCH sent the signature of the file as it was then');
    again.destroy();
    clearDirty(h);
  });

  it('XPATCHS (version 2): the delta in chunks, applied as it comes; refused or given up, its chunks are still read', async () => {
    const v1 = await session();
    v1.send(`XPATCHS ${h.key} ${F('inside.txt')} 00`);
    assert.equal(await v1.line(), 'Unknown command!', 'a version 1 session does not know it');
    v1.destroy();
    const peer = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN_V2, EXTENSIONS_ALPN] });
    assert.equal(peer.alpn, EXTENSIONS_ALPN_V2, 'version 2 agreed on');
    assert.deepEqual(await exchange(peer, ['CONFIG ', `HELLO ${h.client.name}`]), [OK, OK]);

    const base = Buffer.alloc(10_000, 0x62);
    await h.server.write('streamed.txt', base, 0o644);
    assert.equal((await h.server.run(['-cI', h.server.path('streamed.txt')])).code, 0);
    // COPY 8000 bytes of the basis, then a literal, cut inside the COPY command and inside the literal.
    const copyAndTail = Buffer.concat([DELTA_MAGIC, Buffer.from([0x46, 0, 0x1f, 0x40, 0x04]), Buffer.from('tail'), Buffer.from([0])]);
    const xpatchs = (name: string, key: string, token: string, body: Buffer): void =>
      peer.send(Buffer.concat([Buffer.from(`XPATCHS ${key} ${F(name)} ${token}\n`), body]));

    // Refused ones: their chunks (here holding a command line) are data, read to the end.
    const sneaky = chunked(literalDelta(Buffer.from(`\nDEL ${h.key} ${F('inside.txt')}\n`)), [3, 20]);
    xpatchs('streamed.txt', 'wrongkey', '00', sneaky);
    assert.equal(await peer.line(), DENIED, 'wrong key');
    xpatchs('streamed.txt', h.key, '00', sneaky);
    assert.equal(await peer.line(), ERR_BASIS_CHANGED, 'no SIG described this basis');
    // Given up on the way: the old content stays, no temp file, the session goes on.
    xpatchs('streamed.txt', h.key, signatureDigest(await sigOf(peer, 'streamed.txt')),
      Buffer.concat([framed(copyAndTail.subarray(0, 7)), Buffer.from('octet-stream -1\n')]));
    assert.equal(await peer.line(), 'Input/output error');
    assert.ok((await h.server.read('streamed.txt')).equals(base));
    assert.deepEqual(await tempFiles(h), []);

    xpatchs('streamed.txt', h.key, signatureDigest(await sigOf(peer, 'streamed.txt')), chunked(copyAndTail, [2, 7, 11]));
    assert.equal(await peer.line(), OK);
    assert.deepEqual(await exchange(peer, [`SETIME ${h.key} ${F('streamed.txt')} 1700000000`, 'BYE']), [OK, 'OK (cu_later).']);
    peer.destroy();
    assert.ok((await h.server.read('streamed.txt')).equals(Buffer.concat([base.subarray(0, 8000), Buffer.from('tail')])));
    assert.equal((await h.server.read('inside.txt')).toString(), 'inside\n');
    assert.deepEqual(await tempFiles(h), []);
    clearDirty(h);
    await assertStillServing(h, 'xpatchs');
  });

  it('a local change between a received file and its SETIME is a conflict: the local version stays', async () => {
    await h.server.write('racy.txt', 'before\n', 0o644);
    assert.equal((await h.server.run(['-cI', h.server.path('racy.txt')])).code, 0);
    const peer = await session();
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('racy.txt')}\n`), framed(literalDelta(Buffer.from('from the client\n')))]));
    assert.equal(await peer.line(), OK);
    assert.deepEqual(await exchange(peer, [`SETMOD ${h.key} ${F('racy.txt')} 33188`]), [OK]);
    await h.server.write('racy.txt', 'changed here meanwhile\n', 0o644);
    await utimes(h.server.path('racy.txt'), 1_700_000_100, 1_700_000_100);
    assert.deepEqual(await exchange(peer, [`SETIME ${h.key} ${F('racy.txt')} 1700000000`, 'BYE']),
      ['File is also marked dirty here!', 'OK (cu_later).']);
    peer.destroy();
    assert.equal((await h.server.read('racy.txt')).toString(), 'changed here meanwhile\n');
    assert.deepEqual(await tempFiles(h), []);
    assert.ok((await h.server.dump('dirty')).some((r) => r[0]!.endsWith('racy.txt')), 'marked dirty to be pushed back');
    assert.match(h.log(), /racy\.txt from [0-9.]+: changed here while its new content was in flight/);
    clearDirty(h);
  });

  it('a daemon stopped by SIGTERM in the middle of a transfer removes its temp file', async () => {
    const peer = await session();
    const delta = literalDelta(Buffer.alloc(2_000_000, 0x71));
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('inside.txt')}\n`), Buffer.from(`octet-stream ${delta.length}\n`),
      delta.subarray(0, 1_000_000)]));
    for (let i = 0; i < 100 && (await tempFiles(h)).length === 0; i++) await sleep(20);
    assert.equal((await tempFiles(h)).length, 1, 'the transfer is under way');
    process.kill(h.daemon.pid, 'SIGTERM');
    await h.daemon.exited;
    peer.destroy();
    assert.deepEqual(await tempFiles(h), [], 'no temp file after SIGTERM');
    assert.equal((await h.server.read('inside.txt')).toString(), 'inside\n');
    h.daemon = await h.server.startDaemon({ mode: '-ii', verbose: 1 });
  });

  it('a delta that copies from a basis, or a cut connection, ends the session; target intact, no temp file', async () => {
    const copy = Buffer.concat([DELTA_MAGIC, Buffer.from([0x45, 0, 3, 0])]);
    const peer = await session();
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('inside.txt')}\n`), framed(copy)]));
    assert.equal(await peer.line(), 'Input/output error');
    assert.ok(await peer.closed(), 'the session ends');
    peer.destroy();
    const cut = await session();
    const delta = literalDelta(Buffer.alloc(500_000, 0x61));
    cut.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('inside.txt')}\n`), Buffer.from(`octet-stream ${delta.length}\n`), delta.subarray(0, 1000)]));
    await sleep(50);
    cut.destroy();
    for (let i = 0; i < 100 && (await tempFiles(h)).length > 0; i++) await sleep(20);
    assert.deepEqual(await tempFiles(h), []);
    assert.equal((await h.server.read('inside.txt')).toString(), 'inside\n');
    await assertStillServing(h, 'xpatch-corrupt');
  });

  it('pipelined SIGs: a signature leaves at once, not after the next SIG\'s work (the client makes its delta meanwhile)', async () => {
    await h.server.write('sig-small.txt', 'small\n', 0o644);
    await h.server.write('sig-big.bin', Buffer.alloc(48 << 20, 0x5a), 0o644);
    const peer = await session();
    // Both commands in one write: the daemon has the second one buffered while it answers the first.
    peer.send(`SIG ${h.key} ${F('sig-small.txt')}\nSIG ${h.key} ${F('sig-big.bin')}`);
    const readSig = async (): Promise<number> => {
      await sigReply(peer, 10_000);
      return Date.now();
    };
    const first = await readSig();
    const second = await readSig();
    // The 48 MiB signature takes a few hundred ms here; held replies would arrive together.
    assert.ok(second - first >= 50, `the first reply came ${second - first} ms before the second`);
    peer.destroy();
    await h.server.rm('sig-big.bin');
    await h.server.rm('sig-small.txt');
  });
  it('version 4: a creation where nothing is and no parent is answers `Parent dir missing.`, as SIG; version 3 the errno', async () => {
    const v4 = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN_V4] });
    assert.equal(v4.alpn, EXTENSIONS_ALPN_V4);
    assert.deepEqual(await exchange(v4, ['CONFIG ', `HELLO ${h.client.name}`]), [OK, OK]);
    assert.deepEqual(await exchange(v4, [`SIG ${h.key} ${F('v4none/sub')}`, `MKDIR ${h.key} ${F('v4none/sub')}`,
      `MKFIFO ${h.key} ${F('v4none/fifo')}`]), ['Parent dir missing.', 'Parent dir missing.', 'Parent dir missing.']);
    // XPATCH's frame is read all the same: the next command is understood.
    v4.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('v4none/f.txt')}\n`), framed(literalDelta(Buffer.from('lost\n')))]));
    assert.equal(await v4.line(), 'Parent dir missing.');
    // Under a directory just made, a creation goes on without a SIG.
    assert.deepEqual(await exchange(v4, [`MKDIR ${h.key} ${F('v4dir')}`, `MKDIR ${h.key} ${F('v4dir/sub')}`]), [OK, OK]);
    v4.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('v4dir/sub/f.txt')}\n`), framed(literalDelta(Buffer.from('made\n')))]));
    assert.equal(await v4.line(), OK);
    assert.deepEqual(await exchange(v4, [`SETIME ${h.key} ${F('v4dir/sub/f.txt')} 1700000000`, 'BYE']), [OK, 'OK (cu_later).']);
    v4.destroy();
    assert.equal((await h.server.read('v4dir/sub/f.txt')).toString(), 'made\n');
    assert.equal(await h.server.stat('v4none'), null);
    // Version 3 (and csync2): the creation fails with its own errno.
    const v3 = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN_V3] });
    assert.equal(v3.alpn, EXTENSIONS_ALPN_V3);
    assert.deepEqual(await exchange(v3, ['CONFIG ', `HELLO ${h.client.name}`, `MKDIR ${h.key} ${F('v4none/sub')}`]),
      [OK, OK, 'No such file or directory']);
    v3.destroy();
    clearDirty(h);
    await h.server.rm('v4dir');
    await assertStillServing(h, 'xpatch-v4');
  });

  it('version 4: SIG of an entry removed here (its rows stay) says `OK (not_found).`; a creation under a missing parent meets that before any dirty check', async () => {
    await h.server.write('v4gone/x.txt', 'x\n', 0o644);
    assert.equal((await h.server.run(['-cr', '/'])).code, 0);
    await h.server.rm('v4gone');
    const v4 = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN_V4] });
    assert.deepEqual(await exchange(v4, ['CONFIG ', `HELLO ${h.client.name}`]), [OK, OK]);
    // Its MKDIR would be refused as dirty here: the client must not create what lies below it unasked.
    v4.send(`SIG ${h.key} ${F('v4gone')}`);
    assert.deepEqual([await v4.line(), await v4.line(), await v4.line(), await v4.line()], ['OK (not_found).', '---', 'octet-stream 0', OK]);
    // x.txt has a row here, and its parent is gone: `Parent dir missing.`, as its SIG says, not `File is also marked dirty here!`.
    assert.deepEqual(await exchange(v4, [`MKFIFO ${h.key} ${F('v4gone/x.txt')}`, 'BYE']), ['Parent dir missing.', 'OK (cu_later).']);
    v4.destroy();
    // Version 3 (and csync2's conversation): the plain answer.
    const v3 = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN_V3] });
    assert.deepEqual(await exchange(v3, ['CONFIG ', `HELLO ${h.client.name}`]), [OK, OK]);
    v3.send(`SIG ${h.key} ${F('v4gone')}`);
    assert.equal(await v3.line(), 'OK (path_not_found).');
    v3.destroy();
    clearDirty(h);
    await assertStillServing(h, 'xpatch-v4-gone');
  });

  it('version 5: XPATCHA is XPATCH then SETOWN, SETMOD and SETIME of the file, four replies; one when XPATCH fails, its frame read', async () => {
    const v5 = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN_V5] });
    assert.equal(v5.alpn, EXTENSIONS_ALPN_V5);
    assert.deepEqual(await exchange(v5, ['CONFIG ', `HELLO ${h.client.name}`]), [OK, OK]);
    const content = Buffer.from('sent by XPATCHA\n');
    // uid 1234, gid 4321, mode 0100640 (33184), mtime 1600000000.
    v5.send(Buffer.concat([Buffer.from(`XPATCHA ${h.key} ${F('v5.txt')} 1234 4321 33184 1600000000\n`), framed(literalDelta(content))]));
    assert.deepEqual([await v5.line(), await v5.line(), await v5.line(), await v5.line()], [OK, OK, OK, OK]);
    // Refused (missing parent, wrong key): XPATCH's reply only, and the frame is not taken for commands.
    v5.send(Buffer.concat([Buffer.from(`XPATCHA ${h.key} ${F('v5none/f.txt')} 0 0 33188 1600000000\n`), framed(literalDelta(content))]));
    assert.equal(await v5.line(), 'Parent dir missing.');
    v5.send(Buffer.concat([Buffer.from(`XPATCHA wrongkey ${F('v5other.txt')} 0 0 33188 1600000000\n`), framed(literalDelta(content))]));
    assert.equal(await v5.line(), DENIED);
    assert.deepEqual(await exchange(v5, ['BYE']), ['OK (cu_later).']);
    v5.destroy();
    const st = await h.server.stat('v5.txt');
    assert.ok((await h.server.read('v5.txt')).equals(content));
    assert.deepEqual([st!.uid, st!.gid, st!.mode, st!.mtimeMs], [1234, 4321, 0o100640, 1_600_000_000_000]);
    assert.equal(await h.server.stat('v5other.txt'), null);
    const rows = (await h.server.dump('file')).map((r) => r[0]);
    assert.ok(rows.some((r) => r!.endsWith('/v5.txt')), `file row written: ${rows.join(', ')}`);
    // Version 4 does not know it.
    const v4 = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN_V4] });
    assert.deepEqual(await exchange(v4, ['CONFIG ', `HELLO ${h.client.name}`, `XPATCHA ${h.key} ${F('v5.txt')} 0 0 33188 1`]),
      [OK, OK, 'Unknown command!']);
    v4.destroy();
    clearDirty(h);
    await h.server.rm('v5.txt');
    await assertStillServing(h, 'xpatch-v5');
  });

  it('version 5, many new files in one session (from the 16th on written by the file worker): the same replies, contents, attributes and rows; a stale temp file in the way and a delta that is not literals only take the ordinary way', async () => {
    await h.server.mkdir('many', 0o755);
    // A temp file left by a killed writer where the 20th file's first temp name is.
    await h.server.write('many/.f20.txt.csTemp', 'stale\n', 0o600);
    const v5 = await RawPeer.open(h.client, h.server, { tls: true, alpn: [EXTENSIONS_ALPN_V5] });
    assert.deepEqual(await exchange(v5, ['CONFIG ', `HELLO ${h.client.name}`]), [OK, OK]);
    const N = 40;
    const contentOf = (i: number): Buffer => Buffer.from(`file ${i}\n`.repeat(i * 37 + 1));
    const deltaOf = (i: number): Buffer => {
      const d = literalDelta(contentOf(i));
      // The 30th: bytes after END (librsync ignores them; the fast reader does not take such a delta).
      return i === 30 ? Buffer.concat([d, Buffer.from('trailing')]) : d;
    };
    // uid, gid, mode (the 25th with setuid and setgid) and mtime differ per file.
    const modeOf = (i: number): number => (i === 25 ? 0o106755 : i % 2 ? 0o100640 : 0o100604);
    const lines = [];
    for (let i = 0; i < N; i++) {
      lines.push(Buffer.from(`XPATCHA ${h.key} ${F(`many/f${i}.txt`)} ${1000 + i} ${2000 + i} ${modeOf(i)} ${1_600_000_000 + i}\n`), framed(deltaOf(i)));
    }
    v5.send(Buffer.concat(lines));
    const replies: (string | null)[] = [];
    for (let i = 0; i < 4 * N; i++) replies.push(await v5.line());
    assert.deepEqual(replies, new Array(4 * N).fill(OK));
    assert.deepEqual(await exchange(v5, ['BYE']), ['OK (cu_later).']);
    v5.destroy();
    for (let i = 0; i < N; i++) {
      const st = await h.server.stat(`many/f${i}.txt`);
      assert.ok(st, `many/f${i}.txt arrived`);
      assert.ok((await h.server.read(`many/f${i}.txt`)).equals(contentOf(i)), `content of f${i}`);
      assert.deepEqual([st.uid, st.gid, st.mode, st.mtimeMs], [1000 + i, 2000 + i, modeOf(i), (1_600_000_000 + i) * 1000], `attributes of f${i}`);
    }
    const rows = new Set((await h.server.dump('file')).map((r) => r[0]));
    for (let i = 0; i < N; i++) assert.ok([...rows].some((r) => r!.endsWith(`/many/f${i}.txt`)), `row of f${i}`);
    assert.deepEqual(await tempFiles(h), [], 'no temp file left (the stale one removed)');
    assert.match(h.log(), /many\/f25\.txt from .*: mode 6755 has setuid\/setgid bits/);
    clearDirty(h);
    for (let i = 0; i < N; i++) await h.server.rm(`many/f${i}.txt`);
    await assertStillServing(h, 'xpatch-v5-many');
  });
});
