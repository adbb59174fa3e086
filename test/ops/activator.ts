/**
 * systemd socket activation without systemd as pid 1, for the unit tests of our daemon:
 *
 * - `accept` (a socket unit with Accept=yes): every connection starts the command with the connection
 *   as stdin and stdout, like `csync2@.service`;
 * - `listen` (Accept=no): the command gets the listening socket as fd 3 with LISTEN_PID/LISTEN_FDS,
 *   like `csync2-standalone.service`.
 *
 * systemd's own `systemd-socket-activate` does the work when it is installed (it builds the child's
 * environment the way systemd does: only TERM, PATH, HOME, the LISTEN_* variables and what `-E` names).
 * Without it, a small stand-in does the same with Node's sockets.
 * A syslog catcher stands in for /dev/log: our `-l` hands its lines to `logger`, which also writes to a
 * unix stream socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as net from 'node:net';
import type { Cluster, TestHost } from '../helpers/cluster.js';
import { isListening, sleep } from '../helpers/net.js';
import { commandExists } from './files.js';

export type ActivationMode = 'accept' | 'listen';

export interface Activated {
  /** Processes started for connections (accept) or for the socket (listen), so far. */
  sessions(): number;
  /** Whatever the activator and the processes it started printed. */
  output(): string;
  stop(): Promise<void>;
}

export const HAVE_SOCKET_ACTIVATE = commandExists('systemd-socket-activate');

/** Variables passed through to the started command (systemd-socket-activate passes nothing else). */
const PASS_ENV = ['CSYNC2_SYSTEM_DIR', 'CSYNC2_SYSLOG_SOCKET'];

/** Listens on the host's address and cluster port; resolves once the socket is there. */
export async function activate(cluster: Cluster, host: TestHost, mode: ActivationMode, argv: string[],
  env: NodeJS.ProcessEnv): Promise<Activated> {
  const activated = HAVE_SOCKET_ACTIVATE
    ? viaSystemd(cluster, host, mode, argv, env)
    : await viaNode(host, mode, argv, env);
  const deadline = Date.now() + 10_000;
  while (!(await isListening(host.name, host.port))) {
    if (Date.now() > deadline) {
      await activated.stop();
      throw new Error(`activator did not listen on ${host.name}:${host.port}\n${activated.output()}`);
    }
    await sleep(10);
  }
  return activated;
}

function viaSystemd(cluster: Cluster, host: TestHost, mode: ActivationMode, argv: string[],
  env: NodeJS.ProcessEnv): Activated {
  const proc = cluster.tracker.spawn(['systemd-socket-activate', '-l', `${host.name}:${host.port}`,
    ...(mode === 'accept' ? ['--accept', '--inetd'] : []),
    ...PASS_ENV.flatMap((name) => (env[name] === undefined ? [] : ['-E', name])), ...argv], { env });
  const output = (): string => proc.stdout().toString('latin1') + proc.stderr().toString('latin1');
  return {
    // Accept=yes forks a child per connection; Accept=no execs the command in its own process.
    sessions: () => (output().match(mode === 'accept' ? /^Spawned /gm : /^Execing /gm) ?? []).length,
    output,
    stop: async () => { await proc.stop(1000); },
  };
}

async function viaNode(host: TestHost, mode: ActivationMode, argv: string[], env: NodeJS.ProcessEnv): Promise<Activated> {
  const children: ChildProcess[] = [];
  let text = '';
  const childEnv: NodeJS.ProcessEnv = { PATH: env.PATH, HOME: env.HOME };
  for (const name of PASS_ENV) if (env[name] !== undefined) childEnv[name] = env[name];
  const track = (child: ChildProcess): void => {
    children.push(child);
    child.stdout?.on('data', (c: Buffer) => { text += c.toString('latin1'); });
    child.stderr?.on('data', (c: Buffer) => { text += c.toString('latin1'); });
  };
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: host.name, port: host.port, backlog: 5 }, resolve);
  });
  if (mode === 'accept') {
    server.on('connection', (sock: net.Socket) => {
      track(spawn(argv[0]!, argv.slice(1), { stdio: [sock, sock, 'pipe'], env: childEnv, detached: true }));
      sock.destroy(); // the child has its own copy of the connection
    });
  } else {
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    track(spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', ...argv],
      { stdio: ['ignore', 'pipe', 'pipe', fd], env: childEnv, detached: true }));
  }
  return {
    sessions: () => children.length,
    output: () => text,
    stop: async () => {
      server.close();
      for (const child of children) {
        try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
      }
    },
  };
}

/** A /dev/log stand-in: collects what `logger` sends (one `<PRI>... csync2[pid]: text` per line). */
export interface SyslogCatcher {
  path: string;
  lines(): string[];
  /** Lines at csync2's level 0 or errors (LOG_LOCAL0 with LOG_WARNING or LOG_ERR). */
  problems(): string[];
  close(): Promise<void>;
}

export async function catchSyslog(path: string): Promise<SyslogCatcher> {
  let text = '';
  const conns = new Set<net.Socket>();
  const server = net.createServer((conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('data', (c: Buffer) => { text += c.toString('latin1'); });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  const lines = (): string[] => text.split('\n').filter((l) => l !== '');
  return {
    path,
    lines,
    problems: () => lines().filter((l) => /^<13[1-2]>/.test(l)),
    close: async () => {
      for (const conn of conns) conn.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
    },
  };
}
