/**
 * Garbage and mutated sessions against our standalone daemon (`-ii`, plain
 * TCP so the mutations reach the command loop). Every trial connects from the
 * client host's address, sends its bytes, half-closes, and must see the
 * daemon end the session within a few seconds (no hang). Afterwards the
 * daemon must still be alive, nothing outside the server's data and database
 * directories may have changed, its memory stays bounded, and a real csync2
 * client still syncs through it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createCluster, diffTrees, treeSnapshot, type Cluster, type Daemon, type TestHost } from '../helpers/index.js';
import { Rng, SEED, scale } from './scale.js';

const SESSION_END_MS = 5000;

/** One valid plain session with most commands (names prefix-encoded and url-encoded as csync2 sends them). */
function validSession(key: string, me: string): Buffer[] {
  const lit = Buffer.concat([Buffer.from([0x72, 0x73, 0x02, 0x36, 0x06]), Buffer.from('hello\n'), Buffer.from([0])]);
  const f = '%25data%25/fz/f1.txt';
  return [
    Buffer.from('CONFIG \n'),
    Buffer.from(`HELLO ${me}\n`),
    Buffer.from(`MKDIR ${key} %25data%25/fz\n`),
    Buffer.from(`SIG ${key} ${f}\n`),
    Buffer.from(`PATCH ${key} ${f}\n`),
    Buffer.from(`octet-stream ${lit.length}\n`), lit,
    Buffer.from(`SETOWN ${key} ${f} 0 0\n`),
    Buffer.from(`SETMOD ${key} ${f} 33188\n`),
    Buffer.from(`SETIME ${key} ${f} 1700000000\n`),
    Buffer.from(`GETTM ${key} ${f}\n`),
    Buffer.from(`GETSZ ${key} ${f}\n`),
    Buffer.from(`MKLINK ${key} %25data%25/fz/ln f1.txt\n`),
    Buffer.from(`LIST ${me} - ${key}\n`),
    Buffer.from(`FLUSH ${key} ${f}\n`),
    Buffer.from(`DEL ${key} %25data%25/fz/ln\n`),
    Buffer.from('BYE\n'),
  ];
}

const HOSTILE_WORDS = [
  '..', '%00', '/etc/passwd', '%25data%25/../../../tmp/x', '%25data%25/%2E%2E/x', '%25nope%25/x', '-1',
  '-99999999999999999999', '99999999999999999999', 'octet-stream', 'octet-stream -1', 'octet-stream 999999999999',
  '%', '%4', '%zz', '%25data%25', '', 'HELLO', 'BYE', 'TYPE', 'SSL', 'CONFIG', '\t', '\r', 'x'.repeat(20000),
];

function mutateSession(parts: Buffer[], rng: Rng): Buffer {
  const lines: Buffer[] = parts.map((p) => Buffer.from(p));
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    if (lines.length === 0) lines.push(Buffer.from('CONFIG \n'));
    const i = rng.int(lines.length);
    switch (rng.int(6)) {
      case 0: lines.splice(i, 1); break;
      case 1: lines.splice(i, 0, lines[i]!); break;
      case 2: { // replace one word of a line
        const words = lines[i]!.toString('latin1').replace(/\n$/, '').split(' ');
        words[rng.int(words.length)] = rng.pick(HOSTILE_WORDS);
        lines[i] = Buffer.from(words.join(' ') + '\n', 'latin1');
        break;
      }
      case 3: { // flip bytes
        const b = Buffer.from(lines[i]!);
        for (let k = 0; k < 1 + rng.int(3) && b.length > 0; k++) b[rng.int(b.length)] = rng.int(256);
        lines[i] = b;
        break;
      }
      case 4: lines.splice(i, 0, rng.bytes(1 + rng.int(64))); break;
      default: lines.length = Math.max(1, i); // cut the session short
    }
  }
  return Buffer.concat(lines);
}

/** Send, half-close, and wait for the daemon to close its side; resolves with how it ended. */
function trial(client: TestHost, server: TestHost, bytes: Buffer): Promise<'closed' | 'hung'> {
  return client.connect(server).then((socket: Socket) => new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('hung');
    }, SESSION_END_MS);
    socket.on('data', () => { /* replies are not checked: only that the session ends */ });
    socket.on('error', () => { /* a reset is an end too */ });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.end(bytes);
  }));
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) : 0;
}

describe('garbage and mutated sessions against our daemon', () => {
  let cluster: Cluster;
  let client: TestHost;
  let server: TestHost;
  let daemon: Daemon;
  let outside: Awaited<ReturnType<typeof treeSnapshot>>;

  before(async () => {
    cluster = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'ours' }], tls: false });
    [client, server] = cluster.hosts as [TestHost, TestHost];
    daemon = await server.startDaemon({ mode: '-ii', verbose: 0 });
    // Everything of the cluster but the server's own data and database.
    outside = await treeSnapshot(cluster.root, { exclude: (p) => p === 'h2/data' || p === 'h2/db' });
  });
  after(() => cluster.cleanup());

  const trials = scale(150, 3000);
  it(`${trials} sessions of random bytes and mutated commands end cleanly (seed ${SEED})`, async () => {
    const rng = new Rng(SEED);
    const key = cluster.key.trim();
    const valid = validSession(key, client.name);
    let maxRss = 0;
    for (let t = 0; t < trials; t++) {
      const bytes = t % 5 === 0 ? rng.bytes(1 + rng.int(4096)) : mutateSession(valid, rng);
      const how = await trial(client, server, bytes);
      assert.equal(how, 'closed', `seed ${SEED} trial ${t}: the daemon did not end the session: ${JSON.stringify(bytes.toString('latin1').slice(0, 2000))}`);
      assert.ok(daemon.running, `seed ${SEED} trial ${t}: the daemon died\n${daemon.stderr().toString('latin1').slice(-3000)}`);
      if (t % 25 === 0) maxRss = Math.max(maxRss, rssKb(daemon.pid));
    }
    maxRss = Math.max(maxRss, rssKb(daemon.pid));
    assert.ok(maxRss < 200 * 1024, `daemon RSS grew to ${maxRss} kB`);
    const now = await treeSnapshot(cluster.root, { exclude: (p) => p === 'h2/data' || p === 'h2/db' });
    assert.deepEqual(diffTrees(outside, now), [], 'something outside the server tree changed');
  });

  it('a real client still syncs through the same daemon afterwards', async () => {
    await client.write('after/fuzz.txt', 'still serving\n');
    await client.run(['-cr', client.path('')]);
    const r = await client.run(['-uv']);
    assert.equal(r.code, 0, r.stderr.toString('latin1'));
    assert.equal((await server.read('after/fuzz.txt')).toString(), 'still serving\n');
    assert.ok(daemon.running);
  });
});

