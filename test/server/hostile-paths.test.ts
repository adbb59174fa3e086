/**
 * Hostile peers against our daemon, part 1: names and identities. Raw TLS sessions from the
 * client host's address after a valid SSL/CONFIG/HELLO (or without HELLO where that is the
 * point) send names outside the group's include patterns, excluded names, `..`, NUL bytes,
 * invalid `%` escapes, names through a symlinked directory that leads out of the tree, commands
 * before HELLO, a second HELLO, DEL of the group root, SETMOD with setuid bits. Every case is
 * refused (and logged) or handled as csync2 would, nothing outside the tree changes, and a real
 * client still syncs through the same daemon afterwards.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DENIED, F, OK, assertStillServing, hostileSetup, type Hostile } from './hostile-setup.js';
import { RawPeer, exchange } from './raw.js';

describe('hostile peers: names and identities', () => {
  let h: Hostile;
  before(async () => { h = await hostileSetup(); });
  after(() => h.cleanup());

  it('commands before HELLO are refused; GROUP and BYE are allowed', async () => {
    const { key, client, server } = h;
    const dear = `Dear ${client.name}, please identify first.`;
    const peer = await RawPeer.open(client, server, { tls: true });
    await h.expect('before HELLO', ['CONFIG ', `SIG ${key} ${F('inside.txt')}`, `DEL ${key} ${F('inside.txt')}`,
      `PATCH ${key} ${F('inside.txt')}`, `MKDIR ${key} ${F('new')}`, `SETMOD ${key} ${F('inside.txt')} 33279`,
      `TYPE ${key} ${F('inside.txt')}`, `LIST ${server.name} - ${key}`, `FLUSH ${key} ${F('inside.txt')}`, 'GROUP test', 'BYE'],
    [OK, dear, dear, dear, dear, dear, dear, dear, dear, OK, 'OK (cu_later).'], peer);
    assert.ok(await peer.closed());
    peer.destroy();
    assert.equal(await server.stat('new'), null);
  });

  it('a second HELLO with another host\'s name drops the identity', async () => {
    const { key, client, third } = h;
    const dear = `Dear ${client.name}, please identify first.`;
    await h.expect('second HELLO', [`HELLO ${third.name}`, `MKDIR ${key} ${F('by-third')}`, `HELLO ${client.name}`, `HELLO ${client.name}`,
      `HELLO nobody.invalid`, `MKDIR ${key} ${F('by-nobody')}`],
    ['Identification failed!', dear, OK, OK, 'Identification failed!', dear]);
    assert.equal(await h.server.stat('by-third'), null);
    assert.match(h.log(), new RegExp(`Identification failed for '${third.name}' from ${client.name}: ${client.name} is not among the addresses`));
  });

  it('names outside the include patterns, excluded names and unknown prefixes are refused', async () => {
    const { key } = h;
    const lines = [`MKDIR ${key} /etc/csync2-hostile`, `PATCH ${key} /etc/passwd`, `DEL ${key} ${h.server.root}/outside/victim.txt`,
      `DEL ${key} %25data%25x`, `DEL ${key} ${F('excluded/keep.txt')}`, `PATCH ${key} ${F('excluded/new')}`,
      `MKDIR ${key} ${F('excluded')}`, `SIG ${key} %25nope%25/x`, `TYPE ${key} /etc/shadow`, `SETMOD ${key} / 16895`];
    await h.expect('outside include / excluded', lines, lines.map(() => DENIED));
    assert.equal(await readFile(join(h.server.dataDir, 'excluded/keep.txt'), 'latin1'), 'excluded\n');
    assert.match(h.log(), /Refused PATCH \/etc\/passwd from [0-9.]+ \([0-9.]+\): no group with this key lists the peer for this file\./);
  });

  it("'..' components (also %-encoded) and NUL bytes are refused", async () => {
    const { key } = h;
    const lines = [`DEL ${key} ${F('../outside/victim.txt')}`, `MKDIR ${key} ${F('sub/../../outside/x')}`,
      `PATCH ${key} ${F('%2E%2E/outside/victim.txt')}`, `SETMOD ${key} ${F('sub/..')} 16895`, `MKLINK ${key} ${F('..')} x`,
      `DEL ${key} ${F('inside.txt%00.bak')}`, `MKDIR ${key} ${F('x%00')}`, `SIG ${key} ${F('%zz')}`, `SETIME ${key} ${F('sub%00/deeper.txt')} 0`];
    await h.expect('.. and NUL', lines, lines.map(() => DENIED));
    assert.match(h.log(), /Refused DEL %data%\/\.\.\/outside\/victim\.txt .*: the name has a '\.\.' component\./);
    assert.match(h.log(), /Refused DEL %data%\/inside\.txt .*: the name contains a NUL byte\./);
    assert.equal((await h.server.read('inside.txt')).toString(), 'inside\n');
  });

  it('invalid % escapes decode like csync2 (%4z is byte 4, a lone % stays) and stay inside the tree', async () => {
    const { key } = h;
    await h.expect('% escapes', [`MKDIR ${key} ${F('a%4z')}`, `MKDIR ${key} ${F('b%')}`, `MKDIR ${key} ${F('c%2')}`, `DEL ${key} ${F('a%4z')}`],
      [OK, OK, OK, OK]);
    assert.equal(await h.server.stat('a\x04'), null, 'made and removed again');
    assert.equal((await h.server.stat('b%'))!.isDirectory(), true);
    assert.equal((await h.server.stat('c%2'))!.isDirectory(), true);
  });

  it('a symlinked directory leading out of the tree: nothing is read or written through it', async () => {
    const { key } = h;
    const lines = [`MKDIR ${key} ${F('escape/newdir')}`, `DEL ${key} ${F('escape/victim.txt')}`, `PATCH ${key} ${F('escape/victim.txt')}`,
      `SETMOD ${key} ${F('escape/victim.txt')} 36351`, `SETOWN ${key} ${F('escape/victim.txt')} 1234 1234`,
      `SETIME ${key} ${F('escape/victim.txt')} 0`, `MKLINK ${key} ${F('escape/l')} /etc/passwd`, `MKFIFO ${key} ${F('escape/fifo')}`,
      `TYPE ${key} ${F('escape/victim.txt')}`,
      // A symlink to a file outside: its target is never changed or read.
      `SETMOD ${key} ${F('victim-link')} 36351`, `SETIME ${key} ${F('victim-link')} 0`, `TYPE ${key} ${F('victim-link')}`];
    await h.expect('symlink escape', lines, lines.map(() => DENIED));
    // SIG answers like csync2: the name has a symlink on its way, so it counts as missing.
    const peer = await h.session();
    peer.send(`SIG ${key} ${F('escape/victim.txt')}`);
    assert.deepEqual([await peer.line(), await peer.line(), await peer.line(), await peer.line()],
      ['OK (not_found).', '---', 'octet-stream 0', OK]);
    peer.destroy();
    assert.match(h.log(), /Refused MKDIR %data%\/escape\/newdir .*: the path leads through the symlink .*\/data\/escape\./);
    assert.match(h.log(), /Refused SETMOD %data%\/victim-link .*: SETMOD would change the target of a symlink\./);
    h.counts.run++;
    h.counts.safe++;
  });

  it('other spellings of a name (//, /./, trailing /) are refused: they would slip past exclude patterns', async () => {
    const { key } = h;
    const lines = [`DEL ${key} %25data%25//excluded/keep.txt`, `DEL ${key} %25data%25/./excluded/keep.txt`,
      `PATCH ${key} %25data%25/excluded//new`, `DEL ${key} %25data%25/`, `MKDIR ${key} ${F('sub/')}`, `SIG ${key} ${F('sub/.')}`];
    await h.expect('non-canonical names', lines, lines.map(() => DENIED));
    assert.equal(await readFile(join(h.server.dataDir, 'excluded/keep.txt'), 'latin1'), 'excluded\n');
    assert.match(h.log(), /Refused DEL %data%\/\/excluded\/keep\.txt .*: the name has an empty or '\.' component\./);
  });

  it('DEL of the group root (and of / and a non-empty directory) changes nothing', async () => {
    const { key } = h;
    await h.expect('DEL root', [`DEL ${key} %25data%25`, `DEL ${key} /`, `DEL ${key} ${F('sub')}`],
      ['Directory not empty', DENIED, 'Directory not empty']);
    assert.equal((await h.server.read('sub/deeper.txt')).toString(), 'deeper\n');
  });

  it('SETMOD with setuid/setgid bits applies the low 12 bits to that file only, and is logged', async () => {
    const { key } = h;
    await h.expect('SETMOD setuid', [`SETMOD ${key} ${F('inside.txt')} ${0o106755}`, `SETMOD ${key} ${F('sub/deeper.txt')} -1`,
      `SETMOD ${key} ${F('sub/deeper.txt')} ${0o100644}`],
    [OK, OK, OK]);
    assert.equal((await h.server.stat('inside.txt'))!.mode & 0o7777, 0o6755);
    assert.equal((await h.server.stat('sub/deeper.txt'))!.mode & 0o7777, 0o644);
    assert.match(h.log(), /SETMOD %data%\/inside\.txt from [0-9.]+: mode 6755 has setuid\/setgid bits\./);
  });

  it('nothing outside the tree changed, the daemon still serves a real client', async (t) => {
    await assertStillServing(h, 'paths');
    assert.equal(h.counts.safe, h.counts.run);
    t.diagnostic(`hostile peers (names and identities): ${h.counts.run} cases run, ${h.counts.safe} refused or handled safely`);
  });
});
