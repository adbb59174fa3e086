/**
 * Client side of the transport (csync2's conn_open): resolve the peer name, try
 * its addresses in order, with `-N` first bind the source address to our own
 * name's address of the same family (a failed bind is logged and ignored), and
 * connect with TCP_NODELAY.
 */
import * as net from 'node:net';
import type { BStr } from '../util/bytes.js';
import { CsyncError, strerror } from '../util/errors.js';
import { log, type DebugSink } from '../util/log.js';
import { resolveName, resolvePort, ResolveError, type ResolvedAddress } from './resolve.js';
import { keepPeerAlive } from './keepalive.js';

// The daemon's HELLO check needs these too; one import site for "where is the peer".
export { addressMatches, resolveAddresses, ResolveError } from './resolve.js';

/** The connection to a peer could not be made; `message` is csync2's level-1 reason line. */
export class ConnectError extends CsyncError {
  constructor(message: BStr, readonly peer: BStr, readonly lastError?: Error) {
    super(message, lastError?.message);
  }
}

/** What the client prints (level 0) when a host cannot be reached. */
export function connectionFailedMessage(peer: BStr): BStr {
  return `ERROR: Connection to remote host \`${peer}' failed.`;
}

export interface ConnectOptions {
  /** -N name: bind the source address to this name's address (same family as the peer's). */
  bindName?: BStr | null;
  /** Where the messages go (default the log; a client serving several peers keeps each peer's in order). */
  out?: DebugSink;
}

/**
 * Connect to `peername` on `port` (number or service name). Logs csync2's
 * level-1 lines (`Bound to <ip>:<port> as <name>.`, `Connect to <ip>:<port>
 * (<peer>).`, and on failure `Cannot resolve peername, getaddrinfo: ...` /
 * `Can't create socket: ...`) and rejects with ConnectError.
 */
export async function connectToPeer(peername: BStr, port: string | number, opts: ConnectOptions = {}): Promise<net.Socket> {
  const out = opts.out ?? log;
  let portNum: number;
  let addrs: ResolvedAddress[];
  try {
    portNum = typeof port === 'number' ? port : resolvePort(port);
    addrs = await resolveName(peername);
  } catch (err) {
    const why = err instanceof ResolveError ? err : null;
    out.debug(1, `Cannot resolve peername, getaddrinfo: ${why ? why.message : String(err)}`);
    // csync2 then reports a stale errno: these are the texts it shows.
    const reason = `Can't create socket: ${why?.code === 'EAI_SERVICE' ? 'Success' : 'No such file or directory'}`;
    out.debug(1, reason);
    throw new ConnectError(reason, peername, err as Error);
  }

  let lastErr: Error | null = null;
  for (const a of addrs) {
    try {
      const sock = await connectOne(a, portNum, opts.bindName ?? null, out);
      sock.setNoDelay(true);
      out.debug(1, `Connect to ${a.address}:${portNum} (${peername}).`);
      return sock;
    } catch (err) {
      lastErr = err as Error;
    }
  }
  const reason = `Can't create socket: ${strerror(lastErr)}`;
  out.debug(1, reason);
  throw new ConnectError(reason, peername, lastErr ?? undefined);
}

/** One address: bound to the first -N address that binds, or unbound if none does. */
async function connectOne(a: ResolvedAddress, port: number, bindName: BStr | null, out: DebugSink): Promise<net.Socket> {
  if (bindName !== null) {
    let locals: ResolvedAddress[] = [];
    try {
      locals = await resolveName(bindName, a.family);
    } catch (err) {
      out.debug(1, `Cannot prepare local socket for bind, getaddrinfo: ${(err as Error).message}`);
    }
    if (locals.length > 0) {
      for (const local of locals) {
        let sock: net.Socket;
        try {
          sock = await tcpConnect(a, port, local.address);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).syscall === 'bind') continue;
          out.debug(1, `Bound to ${local.address}:0 as ${bindName}.`); // the bind worked, the connect did not
          throw err;
        }
        out.debug(1, `Bound to ${local.address}:0 as ${bindName}.`);
        return sock;
      }
      out.debug(1, `Local socket bind() to ${bindName} failed; ignored.`);
    }
  }
  return tcpConnect(a, port, undefined);
}

function tcpConnect(a: ResolvedAddress, port: number, localAddress: string | undefined): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: a.address, port, family: a.family, localAddress });
    const onError = (err: Error): void => {
      sock.destroy();
      reject(err);
    };
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      keepPeerAlive(sock);
      resolve(sock);
    });
  });
}
