/**
 * The daemon's transport. `-ii` listens and serves every connection
 * concurrently in this process (Node cannot fork; session state lives in
 * per-session objects), `-iii` serves exactly one connection, `-i` serves the
 * socket or pipe pair it was started on. Each session is handed to a
 * SessionHandler as a Connection.
 *
 * Listening follows csync2: getaddrinfo(-N name or the wildcard, AI_PASSIVE)
 * and bind to the first address that works. glibc lists 0.0.0.0 first for the
 * wildcard, so a plain `-ii` listens on IPv4 only; we do the same on purpose
 * (same reachability, same peer address form for the HELLO check).
 * With systemd socket activation (LISTEN_PID = our pid, LISTEN_FDS >= 1) the
 * listening socket on fd 3 is used instead of binding.
 *
 * Not reproduced: SO_LINGER {1,5} (Node cannot set it); csync2's banner on a
 * buffered stdout only shows up after the first accept, ours at once.
 */
import { createWriteStream, fstatSync, writeSync, type Stats } from 'node:fs';
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { BStr } from '../util/bytes.js';
import { FatalError, strerror } from '../util/errors.js';
import { log, runInSession } from '../util/log.js';
import { stderrWireTap, type WireTap } from '../protocol/wiredump.js';
import { Connection } from './connection.js';
import { resolveName, resolvePort, ResolveError } from './resolve.js';
import { HALF_OPEN, LISTEN_BACKLOG, adoptEarlyListener, dropEarlyListener } from './early-listen.js';
import { keepPeerAlive } from './keepalive.js';

export type SessionHandler = (conn: Connection) => Promise<void>;

export const DAEMON_BANNER = 'Csync2 daemon running. Waiting for connections.';
/** First fd passed by systemd socket activation. */
const SD_LISTEN_FDS_START = 3;

export interface ServeOptions {
  /** -p value: decimal port or service name (default 30865 is the CLI's business). */
  port: string;
  /** -N name when the bind flag is set, else null (wildcard). */
  bindName: BStr | null;
  /** Our host name (for `Listening on <ip>:<port> as <name>.`). */
  myHostname: BStr;
  /** Wire tap for each new connection (default: stderrWireTap() at -vvv). */
  tapFactory?: () => WireTap | null;
  /**
   * The `<id> ` log prefix of a session (csync2 prints its forked child's pid).
   * Default: our pid for `-iii`, pid + connection number for `-ii`.
   */
  sessionId?: (conn: Connection) => number;
  /** A session that rejects: default logs the message at level 0 (csync2's child would print it and exit). */
  onSessionError?: (err: unknown, conn: Connection) => void;
  /** Environment for socket activation (default process.env; LISTEN_* are removed once used). */
  env?: NodeJS.ProcessEnv;
  /** Our pid for LISTEN_PID (default process.pid). */
  pid?: number;
  /** Where the banner goes (default: stdout). */
  printBanner?: (line: string) => void;
  /** `-ii` stops listening when this aborts (running sessions go on). */
  signal?: AbortSignal;
  /** Nothing but sessions logs in this process while they run (log.ts runInSession's `solo`). */
  sessionsOnlyLog?: boolean;
}

/**
 * `-ii`: listen, print the banner, serve connections concurrently until
 * `opts.signal` aborts (csync2 itself never stops). Rejects with FatalError
 * `Server error: <strerror>` when listening (or accepting) fails.
 */
export async function serveStandalone(opts: ServeOptions, handler: SessionHandler): Promise<void> {
  const server = await openListener(opts);
  banner(opts);
  return new Promise<void>((resolve, reject) => {
    server.on('connection', (sock: net.Socket) => {
      void runSession(sock, opts, handler, (conn) => process.pid + conn.id);
    });
    server.on('error', (err: Error) => {
      server.close();
      reject(serverError(err));
    });
    const stop = (): void => {
      server.close();
      resolve();
    };
    if (opts.signal?.aborted) stop();
    else opts.signal?.addEventListener('abort', stop, { once: true });
  });
}

/** `-iii`: listen, accept exactly one connection, stop listening, serve it, return. */
export async function serveOne(opts: ServeOptions, handler: SessionHandler): Promise<void> {
  const server = await openListener(opts);
  banner(opts);
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    server.once('connection', (s: net.Socket) => {
      server.close();
      resolve(s);
    });
    server.once('error', (err: Error) => {
      server.close();
      reject(serverError(err));
    });
  });
  await runSession(sock, opts, handler, () => process.pid);
}

/**
 * `-i`: one session, reading fd 0 and writing fd 1 (inetd and systemd Accept=yes
 * pass one socket as both). If fd 0 is a socket the peer address is its
 * getpeername() (null = `stranger` for non-IP sockets); pipes are the ssh-style
 * transport, where the peer address is the first word of SSH_CLIENT. Anything
 * else is FatalError
 * `I'm only talking to sockets or pipes! <hex file type>`.
 */
export async function serveInetd(handler: SessionHandler, opts: InetdOptions = {}): Promise<void> {
  const conn = inetdConnection(opts);
  try {
    await handler(conn);
  } finally {
    await conn.close();
  }
}

export interface InetdOptions {
  env?: NodeJS.ProcessEnv;
  tap?: WireTap | null;
  /** File descriptors to serve on (default 0 and 1). */
  inFd?: number;
  outFd?: number;
}

/** The Connection for `-i` (see serveInetd). */
export function inetdConnection(opts: InetdOptions = {}): Connection {
  const env = opts.env ?? process.env;
  const inFd = opts.inFd ?? 0;
  const outFd = opts.outFd ?? 1;
  const tap = opts.tap === undefined ? stderrWireTap() : opts.tap;
  let st;
  try {
    st = fstatSync(inFd);
  } catch (err) {
    throw new FatalError(`Can't run fstat on fd ${inFd}: ${strerror(err)}`);
  }
  if (st.isSocket()) {
    // csync2 reads fd 0 and writes fd 1. Under inetd/systemd both are the same socket: then one
    // Duplex on it keeps the fast native TLS path; otherwise (e.g. a socketpair per direction) a pair.
    if (sameFile(inFd, outFd, st)) {
      const sock = new net.Socket({ fd: inFd, readable: true, writable: true, allowHalfOpen: HALF_OPEN });
      sock.setNoDelay(true);
      keepPeerAlive(sock);
      return new Connection(sock, { peerIp: sock.remoteAddress ?? null, peerPort: sock.remotePort ?? null, tap });
    }
    const input = new net.Socket({ fd: inFd, readable: true, writable: false });
    keepPeerAlive(input);
    return Connection.fromPair(input, writableFd(outFd),
      { peerIp: input.remoteAddress ?? null, peerPort: input.remotePort ?? null, tap });
  }
  if (st.isFIFO()) {
    const input: Readable = new net.Socket({ fd: inFd, readable: true, writable: false });
    return Connection.fromPair(input, writableFd(outFd), { peerIp: peerFromSshClient(env), tap });
  }
  throw new FatalError(`I'm only talking to sockets or pipes! ${(st.mode & 0o170000).toString(16)}`);
}

/** The first word of SSH_CLIENT (`<ip> <port> <port>`) if it is a numeric address; csync2 needs the space. */
export function peerFromSshClient(env: NodeJS.ProcessEnv): string | null {
  const val = env.SSH_CLIENT;
  log.debug(3, `getenv(SSH_CLIENT): >>${val ?? ''}<<`);
  if (val === undefined) return null;
  const sp = val.indexOf(' ');
  if (sp < 0) return null;
  const word = val.slice(0, sp);
  const ip = word.replace(/%.*$/, ''); // the scope id is not part of inet_ntop's output
  if (net.isIP(ip) === 0) {
    log.debug(1, 'getaddrinfo: Name or service not known');
    return null;
  }
  return ip;
}

function sameFile(fdA: number, fdB: number, stA: Stats): boolean {
  if (fdA === fdB) return true;
  try {
    const stB = fstatSync(fdB);
    return stB.dev === stA.dev && stB.ino === stA.ino;
  } catch {
    return false;
  }
}

function writableFd(fd: number): Writable {
  try {
    const st = fstatSync(fd);
    if (st.isFIFO() || st.isSocket()) return new net.Socket({ fd, readable: false, writable: true });
  } catch {
    // fall through: let the write stream report the error when used
  }
  return createWriteStream('', { fd, autoClose: false });
}

/**
 * Bind and listen as csync2 does (or take systemd's fd 3), logging
 * `Listening on <ip>:<port> as <name>.` at level 1.
 */
export async function openListener(opts: ServeOptions): Promise<net.Server> {
  const env = opts.env ?? process.env;
  const activated = socketActivationFd(env, opts.pid ?? process.pid);
  if (activated !== null) {
    const server = net.createServer({ noDelay: true, allowHalfOpen: HALF_OPEN });
    await listenOn(server, () => server.listen({ fd: activated }, LISTEN_BACKLOG)).catch((err: Error) => {
      throw serverError(err);
    });
    logListening(server, opts);
    return server;
  }

  let port: number;
  let hosts: string[];
  try {
    port = resolvePort(opts.port);
    hosts = opts.bindName !== null ? (await resolveName(opts.bindName)).map((a) => a.address) : ['0.0.0.0'];
  } catch (err) {
    await dropEarlyListener();
    const why = err instanceof ResolveError ? err : null;
    log.debug(1, `Cannot prepare local socket, getaddrinfo: ${why ? why.message : String(err)}`);
    // csync2 then prints whatever errno was left over: these are the texts it shows.
    const stale = why && why.code === 'EAI_SERVICE' ? 'Success' : 'No such file or directory';
    throw new FatalError(`Server error: ${stale}`, why?.detail);
  }
  const adopted = await adoptEarlyListener(hosts[0]!, port);
  if (adopted !== null) {
    logListening(adopted.server, opts);
    // After the caller has attached its handler (it does so as soon as this returns).
    setImmediate(() => {
      for (const s of adopted.queued) {
        if (adopted.server.listening) adopted.server.emit('connection', s);
        else s.destroy();
      }
    });
    return adopted.server;
  }
  let lastErr: Error | null = null;
  for (const host of hosts) {
    const srv = net.createServer({ noDelay: true, allowHalfOpen: HALF_OPEN });
    try {
      await listenOn(srv, () => srv.listen({ host, port, backlog: LISTEN_BACKLOG, ipv6Only: false }));
      logListening(srv, opts);
      return srv;
    } catch (err) {
      lastErr = err as Error;
    }
  }
  throw serverError(lastErr);
}

/** fd 3 when systemd passed us listening sockets (LISTEN_PID = pid, LISTEN_FDS >= 1), else null. */
export function socketActivationFd(env: NodeJS.ProcessEnv, pid: number): number | null {
  if (env.LISTEN_PID === undefined || env.LISTEN_FDS === undefined) return null;
  if (Number(env.LISTEN_PID) !== pid || !(Number(env.LISTEN_FDS) >= 1)) return null;
  // Like sd_listen_fds(unset=1): children (actions) must not see them.
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  return SD_LISTEN_FDS_START;
}

function listenOn(server: net.Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    start();
  });
}

function logListening(server: net.Server, opts: ServeOptions): void {
  const addr = server.address();
  if (addr && typeof addr === 'object') log.debug(1, `Listening on ${addr.address}:${addr.port} as ${opts.myHostname}.`);
  else log.debug(1, `Listening on <?>:${opts.port} as ${opts.myHostname}.`);
}

function banner(opts: ServeOptions): void {
  if (opts.printBanner) opts.printBanner(DAEMON_BANNER);
  else {
    try {
      writeSync(1, DAEMON_BANNER + '\n');
    } catch {
      // no stdout: nothing to tell
    }
  }
}

function serverError(err: unknown): FatalError {
  return new FatalError(`Server error: ${strerror(err)}`);
}

/** One accepted connection, run inside its own log context (so its lines carry its `<id> ` prefix). */
async function runSession(sock: net.Socket, opts: ServeOptions, handler: SessionHandler,
  defaultId: (conn: Connection) => number): Promise<void> {
  const peerIp = sock.remoteAddress ?? null;
  const peerPort = sock.remotePort ?? null;
  keepPeerAlive(sock);
  const tap = opts.tapFactory ? opts.tapFactory() : stderrWireTap();
  const conn = new Connection(sock, { peerIp, peerPort, tap });
  const sessionId = (opts.sessionId ?? defaultId)(conn);
  await runInSession(sessionId, async () => {
    log.debug(1, `New connection from ${peerIp ?? '<?>'}:${peerPort ?? '?'}.`);
    try {
      await handler(conn);
    } catch (err) {
      if (opts.onSessionError) opts.onSessionError(err, conn);
      else log.debug(0, err instanceof Error ? err.message : String(err));
    } finally {
      await conn.close().catch(() => undefined);
    }
  }, opts.sessionsOnlyLog);
}
