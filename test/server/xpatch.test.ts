/**
 * XPATCH, our own extension (src/protocol/replies.ts), on the daemon side: the
 * delta follows the command line without waiting for a reply, so the daemon must
 * read that frame whatever it answers (before HELLO, refused, conflicting,
 * unreadable on the client's side), accept only deltas made of literals, and end
 * the session on anything else, with the target intact and no temp file left.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { sleep } from '../helpers/index.js';
import { F, OK, DENIED, assertStillServing, hostileSetup, type Hostile } from './hostile-setup.js';
import { RawPeer, exchange } from './raw.js';
import { FEATURES_REPLY } from '../../src/protocol/replies.js';

const DELTA_MAGIC = Buffer.from([0x72, 0x73, 0x02, 0x36]);

function literalDelta(content: Buffer): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64BE(BigInt(content.length));
  return Buffer.concat([DELTA_MAGIC, Buffer.from([0x44]), len, content, Buffer.from([0])]);
}

function framed(delta: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`octet-stream ${delta.length}\n`), delta]);
}

/** The server forgets its dirty rows (a test's own change is not to be pushed back). */
function clearDirty(h: Hostile): void {
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', h.server.dbPath(), 'DELETE FROM dirty']);
}

async function tempFiles(h: Hostile): Promise<string[]> {
  const all = await readdir(h.server.dataDir, { recursive: true });
  return all.map(String).filter((p) => /(^|\/)\.[^/]+\.([A-Za-z0-9]{6}|csTemp)$/.test(p));
}

describe('XPATCH on our daemon', () => {
  let h: Hostile;
  before(async () => {
    h = await hostileSetup();
  });
  after(() => h.cleanup());

  it('XFEATURES names xpatch, also before HELLO', async () => {
    const peer = await RawPeer.open(h.client, h.server, { tls: true });
    assert.deepEqual(await exchange(peer, ['CONFIG ', 'XFEATURES']), [OK, FEATURES_REPLY]);
    peer.destroy();
  });

  it('a new file and a changed file arrive with SETOWN/SETMOD/SETIME after them', async () => {
    const peer = await h.session();
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
    const stranger = await RawPeer.open(h.client, h.server, { tls: true });
    assert.deepEqual(await exchange(stranger, ['CONFIG ']), [OK]);
    stranger.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('a.txt')}\n`), body]));
    assert.match((await stranger.line())!, /^Dear .*, please identify first\.$/);
    assert.deepEqual(await exchange(stranger, ['BYE']), ['OK (cu_later).'], 'the frame was not taken for commands');
    stranger.destroy();

    const peer = await h.session();
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
    const peer = await h.session();
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('inside.txt')}\n`), framed(literalDelta(Buffer.from('from the client\n')))]));
    assert.equal(await peer.line(), 'File is also marked dirty here!');
    assert.deepEqual(await exchange(peer, ['BYE']), ['OK (cu_later).']);
    peer.destroy();
    assert.equal((await h.server.read('inside.txt')).toString(), 'changed on the server\n');
    await h.server.write('inside.txt', 'inside\n', 0o644);
    await h.server.run(['-cr', h.server.path('')]);
    clearDirty(h);
  });

  it('a delta that copies from a basis, or a cut connection, ends the session; target intact, no temp file', async () => {
    const copy = Buffer.concat([DELTA_MAGIC, Buffer.from([0x45, 0, 3, 0])]);
    const peer = await h.session();
    peer.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('inside.txt')}\n`), framed(copy)]));
    assert.equal(await peer.line(), 'Input/output error');
    assert.ok(await peer.closed(), 'the session ends');
    peer.destroy();
    const cut = await h.session();
    const delta = literalDelta(Buffer.alloc(500_000, 0x61));
    cut.send(Buffer.concat([Buffer.from(`XPATCH ${h.key} ${F('inside.txt')}\n`), Buffer.from(`octet-stream ${delta.length}\n`), delta.subarray(0, 1000)]));
    await sleep(50);
    cut.destroy();
    for (let i = 0; i < 100 && (await tempFiles(h)).length > 0; i++) await sleep(20);
    assert.deepEqual(await tempFiles(h), []);
    assert.equal((await h.server.read('inside.txt')).toString(), 'inside\n');
    await assertStillServing(h, 'xpatch-corrupt');
  });
});
