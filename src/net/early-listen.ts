/**
 * The standalone daemon (`-ii`, `-iii`) listens before the rest of csync2-ts
 * is loaded. csync2 binds right after getopt, in a few milliseconds; scripts
 * (csync2's own tests among them) start a daemon in the background and a
 * client at once, and a client that connects before the daemon listens fails.
 * Loading all our modules takes a few hundred milliseconds on a slow machine;
 * this module needs only node:net, node:dns and node:fs.
 *
 * bin/csync2 has a native pre-binder do the same in a few milliseconds, before node
 * starts (src/launcher/prebind.c); its socket is adopted here.
 *
 * Only a command line whose meaning is certain takes this path: `-ii`/`-iii`
 * with nothing but -v, -t, -N, -p (a number), -D and -C. openListener() later
 * adopts the socket when the full resolution gives the same address and port;
 * otherwise it is closed and the usual path binds (and reports any error).
 * Connections accepted meanwhile wait, unread, for the session code.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ListenOptions, Server, Socket } from 'node:net';
import { DEFAULT_PORT } from '../cli/options.js';

/**
 * csync2 passes 5 to listen(). Beyond csync2 we allow a longer accept queue: with 5, a burst of
 * connections (many hosts pushing at once from cron) overflows it while sessions start, the
 * kernel drops the SYNs and each such client waits a full 1 s SYN retransmit.
 */
export const LISTEN_BACKLOG = 128;
/**
 * A peer that half-closes (sends its last commands, then EOF) still gets every reply, as
 * from csync2: node would otherwise end our side at its EOF, and replies not written by then
 * are lost (seen with a slow first config load). The session ends our side when it is done.
 */
export const HALF_OPEN = true;

export interface EarlyListener {
  server: Server;
  host: string;
  port: number;
  /** Connections accepted before the session code took over. */
  queued: Socket[];
}

let early: Promise<EarlyListener | null> | null = null;

/** What the command line asks for, when it is a plain standalone daemon; else null. */
export function plainDaemonArgs(argv: readonly string[]): { name: string | null; port: number } | null {
  let is = 0;
  let name: string | null = null;
  let port = Number(DEFAULT_PORT);
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    if (a.length < 2 || a[0] !== '-' || a[1] === '-') return null; // file names, `--`, long options
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (c === 'i') is++;
      else if (c === 'v' || c === 't') continue;
      else if ('NpDC'.includes(c)) {
        // getopt: the value is the rest of this word, or the next word.
        let value = a.slice(j + 1);
        if (value === '') {
          if (k + 1 >= argv.length) return null;
          value = argv[++k]!;
        }
        if (c === 'N') {
          if (!/^[\x21-\x7e]*$/.test(value)) return null; // other bytes: the usual path's encoding rules
          name = value.slice(0, 255).toLowerCase();
        }
        if (c === 'p') {
          if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65535) return null;
          port = Number(value);
        }
        break;
      } else {
        return null;
      }
    }
  }
  return is === 2 || is === 3 ? { name, port } : null;
}

/**
 * Start listening when the command line is a plain standalone daemon (see the
 * module comment). Never throws: any failure leaves the binding to the usual path.
 */
export async function listenEarly(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const want = plainDaemonArgs(argv);
  // bin/csync2's native pre-binder (src/launcher/prebind.c) may have listened already.
  const inherited = env.CSYNC2_TS_LISTEN;
  if (inherited !== undefined) {
    delete env.CSYNC2_TS_LISTEN; // not for the actions' processes
    early = adopt(inherited, want).catch(() => null);
    if (await early) return;
  }
  // The stop switch (csync2.lock) and systemd's sockets are the usual path's business.
  if (want === null || env.LISTEN_FDS !== undefined) return;
  const systemDir = env.CSYNC2_SYSTEM_DIR ?? '/etc';
  if (existsSync(`${systemDir}/csync2.lock`)) return;
  early = open(want.name, want.port).catch(() => null);
  await early;
}

async function open(name: string | null, port: number): Promise<EarlyListener | null> {
  // require(): no ES module facade to build for two built-ins.
  const require = createRequire(import.meta.url);
  const net = require('node:net') as typeof import('node:net');
  let host = '0.0.0.0';
  if (name !== null && net.isIP(name) !== 0) {
    host = name;
  } else if (name !== null) {
    const dns = require('node:dns') as typeof import('node:dns');
    const addrs = await dns.promises.lookup(name, { all: true, verbatim: true });
    const first = addrs.find((a) => a.family === 4 || a.family === 6);
    if (first === undefined) return null;
    host = first.address;
  }
  return listenQueued(net, { host, port, backlog: LISTEN_BACKLOG, ipv6Only: false }, host, port);
}

/** A server listening as `options` says, whose connections wait in `queued` until adopted. */
async function listenQueued(net: typeof import('node:net'), options: ListenOptions | { fd: number; backlog: number }, host: string, port: number): Promise<EarlyListener> {
  const server = net.createServer({ noDelay: true, allowHalfOpen: HALF_OPEN });
  const queued: Socket[] = [];
  server.on('connection', (s: Socket) => queued.push(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, host, port, queued };
}

/**
 * The socket bin/csync2's pre-binder listens on ("fd host port"), for the command line it
 * was made for; otherwise (or when it is not a listening socket) it is closed.
 */
async function adopt(spec: string, want: { name: string | null; port: number } | null): Promise<EarlyListener | null> {
  const m = /^(\d+) (\S+) (\d+)$/.exec(spec);
  if (m === null) return null;
  const fd = Number(m[1]);
  const port = Number(m[3]);
  if (fd < 3) return null; // never ours to close
  const require = createRequire(import.meta.url);
  const closeFd = (): null => {
    (require('node:fs') as typeof import('node:fs')).closeSync(fd);
    return null;
  };
  if (want === null || want.port !== port) return closeFd();
  const net = require('node:net') as typeof import('node:net');
  return listenQueued(net, { fd, backlog: LISTEN_BACKLOG }, m[2]!, port).catch(closeFd);
}

/** The early listener, once its start has settled (null: none); it is taken only once. */
async function take(): Promise<EarlyListener | null> {
  const got = early === null ? null : await early;
  early = null;
  return got;
}

async function close(got: EarlyListener): Promise<void> {
  for (const s of got.queued) s.destroy();
  await new Promise<void>((resolve) => got.server.close(() => resolve()));
}

/**
 * The early socket when it listens on `host`:`port` (the usual resolution's
 * first choice), with the connections it accepted meanwhile; the caller takes
 * over its 'connection' events. Otherwise it is closed and null is returned.
 */
export async function adoptEarlyListener(host: string, port: number): Promise<EarlyListener | null> {
  const got = await take();
  if (got === null) return null;
  got.server.removeAllListeners('connection');
  if (got.host === host && got.port === port) return got;
  await close(got);
  return null;
}

/** The early socket is not used (a mode or an error that never listens): close it. */
export async function dropEarlyListener(): Promise<void> {
  const got = await take();
  if (got !== null) await close(got);
}
