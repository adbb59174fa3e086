/**
 * `-i` on a socket passed as fd 0/1, on pipes (ssh transport, SSH_CLIENT), on anything else (fatal),
 * and systemd socket activation (Accept=no): a listening socket as fd 3 with LISTEN_PID/LISTEN_FDS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { Connection } from '../../src/net/connection.js';
import { certHex, loadTlsCredentials } from '../../src/net/tls.js';
import { REPLY_LINE_MAX } from '../../src/protocol/limits.js';
import { OK_ACTIVATING_SSL, OK_CU_LATER } from '../../src/protocol/replies.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { HostDirs } from './realhost.js';

const CHILD = join(REPO_ROOT, 'dist', 'test', 'net', 'fixtures', 'session-child.js');
const SERVER = '127.0.10.31';
const CLIENT = '127.0.10.32';

/** Children run in their own process group and are killed by pid group in `finally`. */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString('latin1'); });
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString('latin1'); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr, stdout })));
}

/** WHO, then SSL + TLS, then WHO again, then BYE: returns the two WHO replies. */
async function whoPlainAndTls(conn: Connection, etc: string): Promise<[string | null, string | null]> {
  await conn.sendLine('WHO');
  const plain = await conn.readLine(REPLY_LINE_MAX);
  await conn.sendLine('SSL');
  assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_ACTIVATING_SSL);
  await conn.upgradeToTlsClient(loadTlsCredentials(etc));
  await conn.sendLine('WHO');
  const tls = await conn.readLine(REPLY_LINE_MAX);
  await conn.sendLine('BYE');
  assert.equal(await conn.readLine(REPLY_LINE_MAX), OK_CU_LATER);
  assert.equal(await conn.readLine(REPLY_LINE_MAX), null);
  return [plain, tls];
}

test('-i on a connected socket as fd 0/1: peer address from getpeername, TLS in place', async () => {
  const dirs = new HostDirs([CLIENT, SERVER]);
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((res) => server.listen(31030, SERVER, res));
  let child: ChildProcess | null = null;
  try {
    const accepted = new Promise<net.Socket>((res) => server.once('connection', res));
    const sock = net.connect({ host: SERVER, port: 31030, localAddress: CLIENT });
    const inbound = await accepted;
    child = spawn(process.execPath, [CHILD, 'inetd'], {
      stdio: [inbound, inbound, 'pipe'], detached: true,
      env: { ...process.env, CSYNC2_SYSTEM_DIR: dirs.host(SERVER).etc },
    });
    const done = exited(child);
    inbound.destroy(); // the child has its own copy; EOF must come from the child alone
    await new Promise((res) => sock.once('connect', res));
    const conn = new Connection(sock, { peerIp: SERVER });
    const [plain, tls] = await whoPlainAndTls(conn, dirs.host(CLIENT).etc);
    assert.equal(plain, `${CLIENT} plain -`);
    assert.equal(tls, `${CLIENT} tls ${certHex(dirs.host(CLIENT).certPem)}`);
    await conn.close();
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
  } finally {
    if (child) killGroup(child);
    server.close();
    dirs.cleanup();
  }
});

test('-i on pipes: peer address from SSH_CLIENT, TLS over the pipe pair', async () => {
  const dirs = new HostDirs([CLIENT, SERVER]);
  const children: ChildProcess[] = [];
  try {
    // Node's stdio 'pipe' is a socketpair; real pipes come from the shell.
    const start = (sshClient: string | undefined): ChildProcess => {
      const env: NodeJS.ProcessEnv = { ...process.env, CSYNC2_SYSTEM_DIR: dirs.host(SERVER).etc };
      if (sshClient === undefined) delete env.SSH_CLIENT;
      else env.SSH_CLIENT = sshClient;
      const c = spawn('/bin/sh', ['-c', 'cat | "$0" "$@" | cat', process.execPath, CHILD, 'inetd'],
        { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
      children.push(c);
      return c;
    };
    const c1 = start('127.0.10.33 40000 22');
    const err1 = collectStderr(c1);
    const conn = Connection.fromPair(c1.stdout!, c1.stdin!, { peerIp: null });
    const [plain, tls] = await whoPlainAndTls(conn, dirs.host(CLIENT).etc);
    assert.equal(plain, '127.0.10.33 plain -');
    assert.equal(tls, `127.0.10.33 tls ${certHex(dirs.host(CLIENT).certPem)}`, err1());

    for (const [value, expected] of [['127.0.10.33', 'stranger'], [undefined, 'stranger'], ['nonsense 1 2', 'stranger'],
      ['::ffff:127.0.10.33 1 2', '::ffff:127.0.10.33']] as const) {
      const c = start(value);
      const pipeConn = Connection.fromPair(c.stdout!, c.stdin!, { peerIp: null });
      await pipeConn.sendLine('WHO');
      assert.equal(await pipeConn.readLine(REPLY_LINE_MAX), `${expected} plain -`, String(value));
      await pipeConn.sendLine('BYE');
      assert.equal(await pipeConn.readLine(REPLY_LINE_MAX), OK_CU_LATER);
    }
  } finally {
    for (const c of children) killGroup(c);
    dirs.cleanup();
  }
});

test('-i reads fd 0 and writes fd 1 when they are different sockets (non-IP peer = stranger)', async () => {
  const dirs = new HostDirs([CLIENT, SERVER]);
  const child = spawn(process.execPath, [CHILD, 'inetd'], {
    stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    env: { ...process.env, CSYNC2_SYSTEM_DIR: dirs.host(SERVER).etc, SSH_CLIENT: '127.0.10.33 1 2' },
  });
  try {
    const done = exited(child);
    const conn = Connection.fromPair(child.stdout!, child.stdin!, { peerIp: null });
    const [plain, tls] = await whoPlainAndTls(conn, dirs.host(CLIENT).etc);
    assert.equal(plain, 'stranger plain -');
    assert.equal(tls, `stranger tls ${certHex(dirs.host(CLIENT).certPem)}`);
    await conn.close();
    assert.equal((await done).code, 0);
  } finally {
    killGroup(child);
    dirs.cleanup();
  }
});

function collectStderr(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (c: Buffer) => { text += c.toString('latin1'); });
  return () => text;
}

test('-i on a regular file is fatal: I\'m only talking to sockets or pipes!', async () => {
  const dirs = new HostDirs([SERVER], { plain: true });
  const file = join(dirs.root, 'input');
  writeFileSync(file, 'WHO\n');
  const fd = openSync(file, 'r');
  try {
    const child = spawn(process.execPath, [CHILD, 'inetd'], { stdio: [fd, 'pipe', 'pipe'], detached: true });
    const result = await exited(child);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, "I'm only talking to sockets or pipes! 8000\n");
  } finally {
    closeSync(fd);
    dirs.cleanup();
  }
});

test('socket activation (Accept=no): fd 3 is served, sessions run concurrently', async () => {
  const dirs = new HostDirs([CLIENT, SERVER], { plain: true });
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((res) => listener.listen(31031, SERVER, res));
  const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
  const child = spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', process.execPath, CHILD, 'activated'],
    { stdio: ['ignore', 'pipe', 'pipe', fd], detached: true });
  const done = exited(child);
  // From now on only the child accepts on this socket.
  await new Promise<void>((res) => listener.close(() => res()));
  try {
    const open = async (): Promise<Connection> => {
      const sock = net.connect({ host: SERVER, port: 31031, localAddress: CLIENT });
      await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
      return new Connection(sock, { peerIp: SERVER });
    };
    const slow = await open();
    const fast = await open();
    // Both sessions are up (the child may still have been starting when we connected).
    for (const c of [slow, fast]) {
      await c.sendLine('WHO');
      assert.equal(await c.readLine(REPLY_LINE_MAX), `${CLIENT} plain -`);
    }
    const order: string[] = [];
    await slow.sendLine('WAIT');
    await fast.sendLine('WHO');
    await Promise.all([
      slow.readLine(REPLY_LINE_MAX).then((l) => order.push(`slow ${l}`)),
      fast.readLine(REPLY_LINE_MAX).then((l) => order.push(`fast ${l}`)),
    ]);
    assert.deepEqual(order, [`fast ${CLIENT} plain -`, 'slow waited'], 'the second session is not queued behind the first');
    for (const c of [slow, fast]) {
      await c.sendLine('BYE');
      assert.equal(await c.readLine(REPLY_LINE_MAX), OK_CU_LATER);
      assert.equal(await c.readLine(REPLY_LINE_MAX), null);
      await c.close();
    }
    killGroup(child);
    const result = await done;
    assert.equal(result.stdout, 'Csync2 daemon running. Waiting for connections.\n');
  } finally {
    killGroup(child);
    dirs.cleanup();
  }
});
