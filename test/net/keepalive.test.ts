/**
 * TCP keepalive (src/net/keepalive.ts) on each side of a connection between hosts: the pushing
 * client's socket, the socket a `-ii` daemon accepted, and the socket `-i` got from inetd as
 * fd 0/1. Each is held idle (the other end says nothing), and the kernel's view of it in
 * /proc/net/tcp must show the keepalive timer (timer kind 2) due within KEEPALIVE_IDLE_MS;
 * a socket without keepalive shows no timer at all (kind 0), as the control case shows.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { KEEPALIVE_IDLE_MS } from '../../src/net/keepalive.js';
import { createCluster, procNetKey, silentListener, sleep, type Cluster, type TestHost } from '../helpers/index.js';
import { implCommand } from '../helpers/paths.js';

let c: Cluster;
let client: TestHost;
let peer: TestHost;
const sockets: Socket[] = [];
/** Keep a socket for cleanup; its peer is killed at the end of a test (a reset is expected). */
function held(s: Socket): Socket {
  s.on('error', () => undefined);
  sockets.push(s);
  return s;
}

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
  [client, peer] = c.hosts as [TestHost, TestHost];
  await client.write('f.txt', 'to push\n');
});

after(async () => {
  for (const s of sockets) s.destroy();
  await c.cleanup();
});

interface TcpTimer { kind: number; dueMs: number }

/** The timer of the established socket local -> remote (null: no such socket). */
function tcpTimer(local: string, remote: string): TcpTimer | null {
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== local || f[2] !== remote || f[3] !== '01') continue;
    const [kind, when] = f[5]!.split(':');
    // `when` is in clock ticks (USER_HZ, 100 on Linux).
    return { kind: parseInt(kind!, 16), dueMs: parseInt(when!, 16) * 10 };
  }
  return null;
}

/**
 * Poll the socket until it shows the keepalive timer or `ms` have passed; returns what it showed
 * last. (A process sets the option a moment after the kernel established the connection.)
 */
async function timerAfter(local: string, remote: string, ms = 5000): Promise<TcpTimer> {
  let last: TcpTimer | null = null;
  const deadline = Date.now() + ms;
  do {
    last = tcpTimer(local, remote) ?? last;
    if (last?.kind === 2) return last;
    await sleep(20);
  } while (Date.now() < deadline);
  assert.ok(last !== null, `no socket ${local} -> ${remote} in /proc/net/tcp`);
  return last;
}

function assertKeepalive(t: TcpTimer, what: string): void {
  assert.equal(t.kind, 2, `${what}: timer kind ${t.kind}, want 2 (keepalive)`);
  assert.ok(t.dueMs > 0 && t.dueMs <= KEEPALIVE_IDLE_MS, `${what}: first probe due in ${t.dueMs} ms`);
}

test('control: an idle socket without keepalive shows no timer', async () => {
  const server = createServer((s) => { held(s); });
  await new Promise<void>((resolve) => server.listen(0, peer.name, resolve));
  try {
    const port = (server.address() as { port: number }).port;
    const s = held(connect({ host: peer.name, port, localAddress: client.name }));
    await new Promise((resolve) => s.once('connect', resolve));
    const t = await timerAfter(procNetKey(client.name, s.localPort!), procNetKey(peer.name, port), 500);
    assert.equal(t.kind, 0, JSON.stringify(t));
  } finally {
    server.close();
  }
});

test('a pushing client waiting for its peer keeps its connection alive', async () => {
  // The peer's address and port, but nobody answers: the client waits for the reply to SSL.
  const silent = await silentListener(peer.name, peer.port);
  const connected = silent.nextConnection();
  const proc = client.spawn(['-x']);
  try {
    const s = await Promise.race([connected, sleep(5000).then(() => null)]);
    assert.ok(s !== null, 'the client did not connect');
    const t = await timerAfter(procNetKey(client.name, s.remotePort!), procNetKey(peer.name, peer.port));
    assertKeepalive(t, 'client');
  } finally {
    proc.kill('SIGKILL');
    await proc.exited;
    await silent.close();
  }
});

test('a -ii daemon keeps an accepted connection alive while it waits for the client', async () => {
  const daemon = await peer.startDaemon({ verbose: 0 });
  try {
    const s = held(connect({ host: peer.name, port: peer.port, localAddress: client.name }));
    await new Promise((resolve) => s.once('connect', resolve));
    const t = await timerAfter(procNetKey(peer.name, peer.port), procNetKey(client.name, s.localPort!));
    assertKeepalive(t, 'daemon');
  } finally {
    await daemon.stop();
  }
});

test('-i keeps the inetd socket (fd 0/1) alive', async () => {
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, peer.name, resolve));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const s = held(connect({ host: peer.name, port, localAddress: client.name }));
  const inbound = await accepted;
  const [cmd, ...pre] = implCommand('ours');
  const child = spawn(cmd!, [...pre, ...peer.baseArgs(), '-i'], { stdio: [inbound, inbound, 'ignore'], env: peer.env(), detached: true });
  try {
    inbound.destroy(); // the child holds its own copy
    await new Promise((resolve) => child.once('spawn', resolve));
    // The child sets it on the one socket both processes held.
    const t = await timerAfter(procNetKey(peer.name, port), procNetKey(client.name, s.localPort!));
    assertKeepalive(t, '-i');
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
    server.close();
  }
});
