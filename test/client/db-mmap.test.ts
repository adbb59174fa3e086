/**
 * The database's memory map (src/db/store.ts useMmap) is gone by the time a client pushes:
 * -u never maps the file, -x and -cu drop the map after their check; else every page read of
 * the file would count in the pushing client's RSS (the push RSS goal). A push also keeps a
 * small page cache (forPush()). Seen from outside: the
 * client is held at its first read of the peer (a listener that never answers) and
 * /proc/PID/maps is read. That the maps show a mapped database at all is checked on a store
 * opened in this process.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCluster, silentListener, type Cluster, type SilentListener, type TestHost } from '../helpers/index.js';
import { resolveDatabase } from '../../src/db/location.js';
import { StateStore } from '../../src/db/store.js';

let c: Cluster;
let client: TestHost;
let silent: SilentListener;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
  client = c.hosts[0]!;
  const peer = c.hosts[1]!;
  // The peer's address and port, but nobody answers: the client waits there with its db open.
  silent = await silentListener(peer.name, peer.port);
  for (let i = 0; i < 50; i++) await client.write(`f${i}.txt`, `file ${i}\n`);
});

after(async () => {
  await silent.close();
  await c.cleanup();
});

function mapsShow(maps: string, dbFile: string): boolean {
  return maps.split('\n').some((line) => line.endsWith(dbFile));
}

/** Is the client's database file mapped while `args` waits for the silent peer? */
async function mappedWhileWaiting(args: string[]): Promise<boolean> {
  const reached = silent.nextConnection().then(() => true as const);
  const proc = client.spawn(args);
  const first = await Promise.race([reached, proc.exited]);
  if (first !== true) assert.fail(`${args.join(' ')} exited before connecting: ${first.stderr.toString()}`);
  const maps = readFileSync(`/proc/${proc.pid}/maps`, 'latin1');
  proc.child.kill('SIGKILL');
  await proc.exited;
  return mapsShow(maps, join(client.dbDir, `${client.name}.db3`));
}

test('a store reads through a memory map unless told not to, and until it drops it (what the maps show)', () => {
  for (const mmap of [true, false]) {
    const loc = resolveDatabase(join(c.root, `store-${mmap}`), 'me', '');
    mkdirSync(join(c.root, `store-${mmap}`));
    const open = (): StateStore => StateStore.open(loc, { noBigTransactions: false, asyncMode: false, lockTimeout: 12, mmap });
    const writer = open();
    writer.putFile('/x', 'v1:mtime=0');
    writer.close(); // the rows move from the WAL into the file, where a map reads them
    const reader = open();
    try {
      assert.equal(reader.getChecktxt('/x'), 'v1:mtime=0');
      assert.equal(mapsShow(readFileSync('/proc/self/maps', 'latin1'), loc.path), mmap, `mmap ${mmap}`);
      // A push's small page cache (SQLite's default) from the start or once it turns to pushing.
      assert.equal(reader.readingMode().cacheKiB, mmap ? 16000 : 2000, `cache with mmap ${mmap}`);
      reader.forPush();
      assert.equal(reader.getChecktxt('/x'), 'v1:mtime=0');
      assert.equal(mapsShow(readFileSync('/proc/self/maps', 'latin1'), loc.path), false, 'mapped after forPush()');
      assert.deepEqual(reader.readingMode(), { mmapBytes: 0, cacheKiB: 2000 });
    } finally {
      reader.close();
    }
  }
});

test('a push (-u, -x, -cu) holds no memory map of its database', async () => {
  const check = await client.run(['-cr', '/']);
  assert.equal(check.code, 0, check.stderr.toString());
  for (const args of [['-u'], ['-x'], ['-cu']]) {
    assert.equal(await mappedWhileWaiting(args), false, `${args.join(' ')} maps the database`);
  }
});
