/**
 * The database's memory map (src/db/store.ts useMmap): on for modes that scan the file table
 * (a check, -x), off for a plain -u, whose client would otherwise count every page it read of
 * the file in its RSS (the bench's push RSS goal). Seen from outside: the client is held at its
 * first read of the peer (a listener that never answers) and /proc/PID/maps is read.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCluster, type Cluster, type TestHost } from '../helpers/index.js';

let c: Cluster;
let client: TestHost;
let silent: Server;
const held: Socket[] = [];
let connected: (() => void) | null = null;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
  client = c.hosts[0]!;
  const peer = c.hosts[1]!;
  // The peer's address and port, but nobody answers: the client waits there with its db open.
  silent = createServer((sock) => {
    held.push(sock);
    connected?.();
  });
  await new Promise<void>((resolve) => silent.listen(peer.port, peer.name, resolve));
  for (let i = 0; i < 50; i++) await client.write(`f${i}.txt`, `file ${i}\n`);
});

after(async () => {
  for (const s of held) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  await c.cleanup();
});

/** Is the client's database file mapped while `args` waits for the silent peer? */
async function mappedWhileWaiting(args: string[]): Promise<boolean> {
  const reached = new Promise<void>((resolve) => { connected = resolve; });
  const proc = client.spawn(args);
  await Promise.race([reached, proc.exited.then((r) => assert.fail(`exited before connecting: ${r.stderr.toString()}`))]);
  const maps = readFileSync(`/proc/${proc.pid}/maps`, 'latin1');
  proc.child.kill('SIGKILL');
  await proc.exited;
  return maps.split('\n').some((line) => line.endsWith(join(client.dbDir, `${client.name}.db3`)));
}

test('a plain -u reads its database without a memory map; -x (a check first) maps it', async () => {
  const check = await client.run(['-cr', '/']);
  assert.equal(check.code, 0, check.stderr.toString());
  assert.equal(await mappedWhileWaiting(['-u']), false, '-u maps the database');
  assert.equal(await mappedWhileWaiting(['-x']), true, '-x does not map the database');
});
