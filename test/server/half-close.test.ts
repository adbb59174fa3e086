/**
 * A peer that sends its commands and closes its side of the connection at once (a half-close:
 * `printf ... | nc`, or a script's socket after its last write) still gets every reply, as from
 * csync2, which reads on and answers until end of file. The first connection to a fresh one-shot
 * daemon with an empty config cache is where ours is slowest to answer (the config is parsed),
 * so the peer's end of file is there before the first reply.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { RawPeer } from './raw.js';
import { twinTest, type Twin } from './twin.js';

/** Everything the daemon sends until it closes the connection. */
async function allReplies(peer: RawPeer): Promise<string> {
  assert.ok(await peer.closed(10_000), `the daemon kept the connection open (have ${JSON.stringify(peer.rest())})`);
  return peer.rest();
}

async function oneShotDaemon(t: Twin) {
  const cacheDir = await mkdtemp(join(t.cluster.root, 'cache-'));
  return t.server.startDaemon({ mode: '-iii', env: { CSYNC2_TS_CACHE_DIR: cacheDir } });
}

twinTest('commands followed at once by end of file are all answered', { tls: false }, async (t) => {
  const daemon = await oneShotDaemon(t);
  const peer = await RawPeer.open(t.client, t.server);
  peer.send(`CONFIG \nHELLO ${t.client.name}\nGROUP test\nNOSUCH\nBYE`);
  peer.endOutput();
  const out = await allReplies(peer);
  assert.equal(out, 'OK (cmd_finished).\nOK (cmd_finished).\nOK (cmd_finished).\nUnknown command!\nOK (cu_later).\n');
  t.note('replies', out);
  t.note('exit', (await daemon.exited).code);
});

twinTest('end of file where the TLS handshake should begin ends the session', {}, async (t) => {
  const daemon = await oneShotDaemon(t);
  const peer = await RawPeer.open(t.client, t.server);
  peer.send('SSL');
  peer.endOutput();
  const out = await allReplies(peer);
  // csync2 answers the handshake that never came with a TLS alert record; only the text line is compared.
  assert.ok(out.startsWith('OK (activating_ssl).\n'), JSON.stringify(out));
  t.note('first line', out.slice(0, out.indexOf('\n')));
  t.note('exit', (await daemon.exited).code);
});
