/**
 * Connecting and listening: our level-1 lines and errors against what the real csync2 prints in the
 * same situation (refused, unresolvable, bad service, failed -N bind, port in use, foreign address),
 * plus the address rules of the HELLO check and port parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectError, connectToPeer, connectionFailedMessage } from '../../src/net/connect.js';
import { openListener, serveOne, serveStandalone, socketActivationFd } from '../../src/net/listen.js';
import { Connection } from '../../src/net/connection.js';
import { addressMatches, ipv6Bytes, resolveAddresses, resolvePort, unmapIpv4 } from '../../src/net/resolve.js';
import { FatalError } from '../../src/util/errors.js';
import { currentSessionId, log, runInSession } from '../../src/util/log.js';
import { isListening, sleep } from '../helpers/net.js';
import { REAL_CSYNC2 } from '../helpers/paths.js';
import { ProcessTracker } from '../helpers/procs.js';

const ME = '127.0.10.41';
const PEER = '127.0.10.49';
const FOREIGN = '10.99.99.99';

/** Run fn with the logger at level `lv` writing into a temp file; returns fn's outcome and the lines. */
async function captureLog<T>(lv: number, fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'csync2-ts-log-'));
  const file = join(dir, 'log');
  const fd = openSync(file, 'w');
  const saved = { level: log.level, fd: log.fd };
  log.level = lv;
  log.fd = fd;
  try {
    const value = await fn();
    return { value, lines: readLines() };
  } catch (error) {
    return { error, lines: readLines() };
  } finally {
    log.level = saved.level;
    log.fd = saved.fd;
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  function readLines(): string[] {
    return readFileSync(file, 'latin1').split('\n').filter((l) => l !== '');
  }
}

/** A throwaway system dir whose config names `me` and `peer`. */
function realEtc(me: string, peer: string): { etc: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'csync2-ts-cl-'));
  writeFileSync(join(root, 'key'), 'x'.repeat(64) + '\n');
  writeFileSync(join(root, 'csync2.cfg'), `group g { host ${me} ${peer}; key ${join(root, 'key')}; include ${root}/data; }\n`);
  return { etc: root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The real client's lines between `Connecting to host` and `ERROR: Connection ...` for `-T`. */
async function realClientLines(tracker: ProcessTracker, me: string, peer: string, port: string): Promise<string[]> {
  const { etc, cleanup } = realEtc(me, peer);
  try {
    const r = await tracker.run([REAL_CSYNC2, '-N', me, '-D', etc, '-p', port, '-T', '-v'],
      { env: { ...process.env, CSYNC2_SYSTEM_DIR: etc } });
    const lines = r.stderr.toString('latin1').split('\n');
    const from = lines.findIndex((l) => l.startsWith('Connecting to host'));
    const to = lines.findIndex((l) => l.startsWith('ERROR: Connection to remote host'));
    assert.ok(from >= 0 && to > from, r.stderr.toString());
    assert.equal(lines[to], connectionFailedMessage(peer));
    return lines.slice(from + 1, to);
  } finally {
    cleanup();
  }
}

test('connect failures: same level-1 lines as the real client, then ConnectError', async () => {
  const tracker = new ProcessTracker();
  try {
    const cases: Array<[string, string, string]> = [
      [ME, PEER, '31040'], // nobody listens: refused, after a successful bind
      [ME, 'no-such-host.invalid', '31040'], // name does not resolve
      [ME, PEER, 'no-such-service'], // port is not a service name
      [FOREIGN, PEER, '31040'], // -N address is not local: bind fails, ignored
    ];
    for (const [me, peer, port] of cases) {
      const expected = await realClientLines(tracker, me, peer, port);
      const got = await captureLog(1, () => connectToPeer(peer, port, { bindName: me }));
      assert.ok(got.error instanceof ConnectError, `${me} -> ${peer}:${port}`);
      assert.equal(got.error.peer, peer);
      assert.equal(got.error.message, expected[expected.length - 1]);
      assert.deepEqual(got.lines, expected, `${me} -> ${peer}:${port}`);
    }
  } finally {
    await tracker.stopAll();
    tracker.dispose();
  }
});

test('a successful connect binds the source address and logs Bound/Connect lines', async () => {
  const server = net.createServer();
  await new Promise<void>((res) => server.listen(31041, PEER, res));
  try {
    const accepted = new Promise<net.Socket>((res) => server.once('connection', res));
    const got = await captureLog(1, () => connectToPeer(PEER, '31041', { bindName: ME }));
    const sock = got.value!;
    assert.equal(sock.localAddress, ME);
    assert.equal((await accepted).remoteAddress, ME);
    assert.deepEqual(got.lines, [`Bound to ${ME}:0 as ${ME}.`, `Connect to ${PEER}:31041 (${PEER}).`]);
    sock.destroy();
    // Without a bind name the kernel picks the source address.
    const plain = await captureLog(1, () => connectToPeer(PEER, 31041));
    assert.deepEqual(plain.lines, [`Connect to ${PEER}:31041 (${PEER}).`]);
    plain.value!.destroy();
  } finally {
    server.close();
  }
});

/** The real daemon's last stderr line when listening fails. */
async function realServerError(tracker: ProcessTracker, name: string | null, port: string): Promise<string[]> {
  const { etc, cleanup } = realEtc(ME, PEER);
  try {
    const args = [REAL_CSYNC2, ...(name ? ['-N', name] : []), '-D', etc, '-p', port, '-iii', '-v'];
    const r = await tracker.run(args, { env: { ...process.env, CSYNC2_SYSTEM_DIR: etc }, timeoutMs: 5000 });
    assert.equal(r.code, 1);
    return r.stderr.toString('latin1').split('\n').filter((l) => l !== '');
  } finally {
    cleanup();
  }
}

test('listen failures: Server error texts (and getaddrinfo lines) as the real daemon prints them', async () => {
  const tracker = new ProcessTracker();
  const blocker = net.createServer();
  await new Promise<void>((res) => blocker.listen(31050, ME, res));
  try {
    const cases: Array<[string | null, string]> = [
      [ME, '31050'], // in use
      ['no-such-host.invalid', '31051'],
      [ME, 'no-such-service'],
      [FOREIGN, '31051'], // not a local address
    ];
    for (const [name, port] of cases) {
      const expected = await realServerError(tracker, name, port);
      const got = await captureLog(1, () => openListener({ port, bindName: name, myHostname: name ?? 'x' }));
      assert.ok(got.error instanceof FatalError, `${name}:${port}`);
      assert.deepEqual([...got.lines, got.error.message], expected, `${name}:${port}`);
    }
  } finally {
    blocker.close();
    await tracker.stopAll();
    tracker.dispose();
  }
});

test('-iii in-process: wildcard listen on 0.0.0.0, one session, then the port is free', async () => {
  const lines: string[] = [];
  const got = await captureLog(1, async () => {
    let banner = '';
    const served = serveOne({ port: '31052', bindName: null, myHostname: 'me', printBanner: (l) => { banner = l; },
      tapFactory: () => null }, async (conn) => {
      lines.push(`peer ${conn.peerIp}`);
      await conn.sendLine(`hello ${conn.peerIp}`);
    });
    while (!(await isListening(PEER, 31052))) await sleep(5);
    const sock = net.connect({ host: PEER, port: 31052, localAddress: ME });
    const data = await new Promise<string>((res) => {
      let text = '';
      sock.on('data', (d: Buffer) => { text += d.toString(); });
      sock.on('end', () => res(text));
    });
    sock.destroy();
    await served;
    lines.push(data, banner);
  });
  assert.equal(got.error, undefined);
  assert.equal(got.lines[0], 'Listening on 0.0.0.0:31052 as me.');
  assert.match(got.lines[1]!, new RegExp(`^<${process.pid}> New connection from ${ME.replace(/\./g, '\\.')}:\\d+\\.$`));
  assert.deepEqual(lines, [`peer ${ME}`, `hello ${ME}\n`, 'Csync2 daemon running. Waiting for connections.']);
  // The listener was closed after the single accept.
  await new Promise<void>((resolve, reject) => {
    const probe = net.connect({ host: PEER, port: 31052 });
    probe.on('connect', () => { probe.destroy(); reject(new Error('still listening')); });
    probe.on('error', () => resolve());
  });
});

test('-ii in-process: concurrent sessions, each with its own <id> prefix on log lines and wire dumps', async () => {
  const stop = new AbortController();
  const got = await captureLog(3, async () => {
    const serving = serveStandalone({ port: '31053', bindName: PEER, myHostname: PEER, printBanner: () => {},
      signal: stop.signal }, async (conn) => {
      for (;;) {
        const line = await conn.readLine(100);
        if (line === null || line === 'BYE') return;
        log.debug(1, `got ${line}`);
        await conn.sendLine(`echo ${line}`);
      }
    });
    while (!(await isListening(PEER, 31053))) await sleep(5);
    const open = async (): Promise<Connection> => {
      const sock = await connectToPeer(PEER, 31053, { bindName: ME });
      return new Connection(sock, { peerIp: PEER });
    };
    const [c1, c2] = [await open(), await open()];
    await c1.sendLine('one');
    await c2.sendLine('two');
    assert.equal(await c2.readLine(100), 'echo two');
    assert.equal(await c1.readLine(100), 'echo one');
    for (const c of [c1, c2]) {
      await c.sendLine('BYE');
      assert.equal(await c.readLine(100), null);
      await c.close();
    }
    stop.abort();
    await serving;
  });
  assert.equal(got.error, undefined);
  const ids = new Set<string>();
  for (const line of got.lines.filter((l) => l.startsWith('<'))) ids.add(/^<(\d+)> /.exec(line)![1]!);
  assert.equal(ids.size, 2, got.lines.join('\n'));
  for (const id of ids) {
    const mine = got.lines.filter((l) => l.startsWith(`<${id}> `)).map((l) => l.slice(id.length + 3));
    assert.match(mine[0]!, /^New connection from 127\.0\.10\.41:\d+\.$/);
    const word = mine.includes('got one') ? 'one' : 'two';
    assert.deepEqual(mine.slice(1), [`Peer> ${word}\\n`, `got ${word}`, `Local> echo ${word}\\n`, 'Peer> BYE\\n']);
  }
  assert.ok(got.lines.includes(`Listening on ${PEER}:31053 as ${PEER}.`));
});

test('solo log context: the first session runs without AsyncLocalStorage, overlapping ones with it, each sees its own id', async () => {
  const seen: string[] = [];
  const gates = new Map<string, () => void>();
  const gate = (name: string): Promise<void> => new Promise((resolve) => gates.set(name, resolve));
  const session = (id: number, steps: string[]) => runInSession(id, async () => {
    for (const step of steps) {
      seen.push(`${id}@${step}:${currentSessionId()}`);
      await gate(`${id}${step}`);
    }
    seen.push(`${id}@end:${currentSessionId()}`);
  }, true);
  const open = (name: string): void => gates.get(name)!();
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const a = session(11, ['x', 'y']); // solo
  await tick();
  const b = session(22, ['x', 'y', 'z']); // overlaps 11: AsyncLocalStorage
  await tick();
  open('11x'); await tick();
  open('22x'); await tick();
  open('11y'); await a;
  const c = session(33, ['x']); // 11 ended: solo again, while 22 still runs
  await tick();
  open('22y'); await tick();
  open('33x'); await c;
  open('22z'); await b;
  assert.equal(currentSessionId(), undefined, 'outside every session');
  for (const entry of seen) {
    const [who, id] = [entry.slice(0, 2), entry.slice(entry.indexOf(':') + 1)];
    assert.equal(id, who, entry);
  }
  assert.equal(seen.length, 9, seen.join(' '));
});

test('socket activation only when LISTEN_PID is our pid and LISTEN_FDS >= 1', () => {
  assert.equal(socketActivationFd({}, 42), null);
  assert.equal(socketActivationFd({ LISTEN_PID: '41', LISTEN_FDS: '1' }, 42), null);
  assert.equal(socketActivationFd({ LISTEN_PID: '42', LISTEN_FDS: '0' }, 42), null);
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' };
  assert.equal(socketActivationFd(env, 42), 3);
  assert.deepEqual(env, {}, 'the variables are consumed');
});

test('HELLO address rule: v4 with v4, v6 with v6, mapped v6 peer with v4', () => {
  assert.ok(addressMatches('127.0.10.1', ['::1', '127.0.10.1']));
  assert.ok(!addressMatches('127.0.10.1', ['127.0.10.2']));
  assert.ok(addressMatches('::ffff:127.0.10.1', ['127.0.10.1']));
  assert.ok(addressMatches('::FFFF:7f00:0a01', ['127.0.10.1']));
  assert.ok(!addressMatches('127.0.10.1', ['::ffff:127.0.10.1']), 'a v4 peer never matches a v6 entry');
  assert.ok(addressMatches('::1', ['0:0:0:0:0:0:0:1']));
  assert.ok(addressMatches('fe80::1%eth0', ['fe80:0::1']));
  assert.ok(!addressMatches('::1', ['127.0.0.1']));
  assert.ok(!addressMatches(null, ['127.0.0.1']));
  assert.equal(ipv6Bytes('::ffff:1.2.3.4'), '00000000000000000000ffff01020304');
  assert.equal(ipv6Bytes('1::2::3'), null);
  assert.equal(unmapIpv4('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(unmapIpv4('::1'), '::1');
});

test('name resolution gives numeric names back and localhost both families where configured', async () => {
  assert.deepEqual(await resolveAddresses('127.0.10.5'), ['127.0.10.5']);
  const local = await resolveAddresses('localhost');
  assert.ok(local.includes('127.0.0.1') || local.includes('::1'));
  await assert.rejects(resolveAddresses('no-such-host.invalid'), (e: unknown) =>
    (e as Error).message === 'Name or service not known');
});

test('ports: decimal or /etc/services names', () => {
  assert.equal(resolvePort('31000'), 31000);
  assert.equal(resolvePort('csync2'), 30865);
  assert.throws(() => resolvePort('no-such-service'), /Servname not supported for ai_socktype/);
  assert.throws(() => resolvePort('70000'));
  assert.throws(() => resolvePort(''));
});
