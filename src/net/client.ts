/**
 * The client side of a csync2 connection (update.c connect_to_host and
 * read_conn_status): connect (with -N source binding), `SSL` and the TLS
 * upgrade with certificate pinning, `CONFIG [name]`, `GROUP` for -G, status
 * replies with csync2's error counting and debug lines, and `BYE`. Used by -u
 * and -x (src/sync/update*.ts) and meant for -T / -TT as well.
 *
 * Where messages go is the caller's choice (a ClientLog); the default is the
 * process logger. Wire dumps (-vvv) go through a per-direction tap the caller
 * may point at any sink while the connection is in use.
 */
import { compileFnmatch } from '../config/fnmatch.js';
import type { NosslEntry } from '../config/model.js';
import type { StateStore } from '../db/store.js';
import { REPLY_LINE_MAX } from '../protocol/limits.js';
import {
  ERR_CONN_CLOSED, ReplyCode, classifyReply, isOkCode,
} from '../protocol/replies.js';
import { urlEncode } from '../protocol/urlencode.js';
import { stderrWireTap, type WireDirection, type WireTap } from '../protocol/wiredump.js';
import type { BStr } from '../util/bytes.js';
import { FatalError } from '../util/errors.js';
import { errorCount, log } from '../util/log.js';
import { ConnectError, connectToPeer, connectionFailedMessage } from './connect.js';
import { Connection } from './connection.js';
import { CLIENT_NO_CERT, CLIENT_WRONG_CERT, checkPeerCert } from './pin.js';
import { loadTlsCredentials } from './tls.js';
import { PEER_TIMEOUT_ENV, peerTimeoutMs } from './peer-timeout.js';

export { connectionFailedMessage };

/** Where a client's messages go (the process logger, or an ordered per-peer buffer). */
export interface ClientLog {
  debug(lv: number, line: BStr): void;
}

/** csync_error_count, or a per-peer share of it. */
export interface ErrorCounter {
  value: number;
}

/** A status reply as csync2's client sees it. */
export interface Status {
  code: ReplyCode;
  /** The line without its LF; `Connection closed.` at end of file. */
  line: BStr;
}

export const CONNECTION_CLOSED: Status = Object.freeze({ code: ReplyCode.CONN_CLOSED, line: ERR_CONN_CLOSED });

export function isOkStatus(s: Status): boolean {
  return isOkCode(s.code);
}

/** A `nossl FROM TO;` rule lets this pair talk plain TCP (fnmatch flags 0, any rule counts). */
export function useSsl(nossl: readonly NosslEntry[], myhostname: BStr, peer: BStr): boolean {
  for (const n of nossl) {
    if (compileFnmatch(n.from)(myhostname) && compileFnmatch(n.to)(peer)) return false;
  }
  return true;
}

export interface HostConnectOptions {
  /** The peer name as written in the group (the `@iface` part if any). */
  peer: BStr;
  /** -p value (number or service name). */
  port: string;
  /** Lower-cased -N value or host name (for nossl rules). */
  myhostname: BStr;
  /** -N was given: bind the source address to myhostname's address. */
  bind: boolean;
  /** -C value ('' = default config). */
  cfgName: BStr;
  /** -G value, sent as `GROUP`; null = none. */
  groupList: BStr | null;
  nossl: readonly NosslEntry[];
  /** $CSYNC2_SYSTEM_DIR (TLS key and certificate). */
  systemDir: string;
  /** For certificate pinning (x509_cert). */
  store: StateStore;
  /** Default: the process logger. */
  out?: ClientLog;
  /** Default: the process error counter. */
  errors?: ErrorCounter;
  /** Offer csync2-ts's extensions in the TLS handshake (EXTENSIONS_ALPN); a real csync2 ignores the offer. */
  offerExtensions?: boolean;
  /**
   * Runs after the TLS handshake, before the peer's certificate is looked up in
   * x509_cert (lets concurrent sessions pin in csync2's host order).
   */
  beforePin?: () => Promise<void>;
}

/**
 * An open, configured connection to one peer. `closed` is csync2's
 * connection_closed_error: set once a status read found end of file.
 */
export class PeerLink {
  closed = false;
  /** Targets of the -vvv wire dump per direction (null = not dumped). */
  readTap: WireTap | null;
  writeTap: WireTap | null;

  constructor(readonly conn: Connection, readonly peer: BStr, readonly out: ClientLog,
    readonly errors: ErrorCounter, defaultTap: WireTap | null) {
    this.readTap = defaultTap;
    this.writeTap = defaultTap;
  }

  /**
   * read_conn_status: one reply line (4096-byte limit), classified; a non-OK
   * line or end of file counts one error. Logs `While syncing file <file>:`
   * (level 2, only with a file) and the level-3 `response from peer(...)` line.
   */
  async readStatus(file: BStr | null, out: ClientLog = this.out, errors: ErrorCounter = this.errors): Promise<Status> {
    const line = await this.conn.reader.readLine(REPLY_LINE_MAX);
    let status: Status;
    if (line === null) {
      errors.value++;
      this.closed = true;
      status = CONNECTION_CLOSED;
    } else {
      status = { code: classifyReply(line), line };
      if (!isOkCode(status.code)) errors.value++;
    }
    if (file !== null) out.debug(2, `While syncing file ${file}:`);
    out.debug(3, `response from peer(${file ?? '<no file>'}): ${this.peer} [${status.code}] <- ${status.line}`);
    return status;
  }

  /** Send one command line (csync2 writes each with one write(); backpressure is the caller's). */
  send(line: BStr): void {
    void this.conn.writer.sendLine(line);
  }

  /** `BYE`, its reply (ignored, as csync2 does), and close. */
  async bye(out: ClientLog = this.out, errors: ErrorCounter = this.errors): Promise<void> {
    this.send('BYE');
    await this.readStatus(null, out, errors);
    await this.close();
  }

  async close(): Promise<void> {
    await this.conn.close(1000);
  }
}

/**
 * connect_to_host: returns the configured link, or null when the connection
 * failed (its level-1 reason was logged and the socket closed; counting the
 * failure and printing `ERROR: Connection to remote host ...` is the caller's
 * part, as in csync2). A TLS failure or a wrong or missing peer certificate is
 * fatal (FatalError), like csync2's.
 */
export async function connectToHost(o: HostConnectOptions): Promise<PeerLink | null> {
  const out = o.out ?? log;
  const errors = o.errors ?? errorCount;
  const ssl = useSsl(o.nossl, o.myhostname, o.peer);
  out.debug(1, `Connecting to host ${o.peer} (${ssl ? 'SSL' : 'PLAIN'}) ...`);

  let socket;
  try {
    socket = await connectToPeer(o.peer, o.port, { bindName: o.bind ? o.myhostname : null, out });
  } catch (err) {
    if (err instanceof ConnectError) return null;
    throw err;
  }

  // The dump goes wherever the link's taps point at the moment of each read/write.
  const baseTap = stderrWireTap();
  let link: PeerLink | null = null;
  const tap: WireTap | null = baseTap
    ? (dir: WireDirection, bytes: Uint8Array): void => {
      const t = link ? (dir === 'Peer' ? link.readTap : link.writeTap) : baseTap;
      t?.(dir, bytes);
    }
    : null;
  const conn = new Connection(socket, { peerIp: socket.remoteAddress ?? null, peerPort: socket.remotePort ?? null, tap });
  link = new PeerLink(conn, o.peer, out, errors, baseTap);
  const silentMs = peerTimeoutMs();
  conn.dropWhenSilent(silentMs, () =>
    out.debug(0, `ERROR: Peer ${o.peer} sent nothing for ${silentMs / 1000} s (${PEER_TIMEOUT_ENV}): connection dropped.`));

  try {
    if (ssl) {
      link.send('SSL');
      const st = await link.readStatus(null);
      if (st.code !== ReplyCode.OK_ACTIVATING_SSL) {
        out.debug(1, 'SSL command failed.');
        await link.close();
        return null;
      }
      await conn.upgradeToTlsClient(loadTlsCredentials(o.systemDir), undefined, o.offerExtensions === true);
      await o.beforePin?.();
      const pin = checkPeerCert(o.store, o.peer, conn.peerCertHex(), out);
      if (pin === 'missing') throw new FatalError(CLIENT_NO_CERT);
      if (pin === 'mismatch') throw new FatalError(CLIENT_WRONG_CERT);
    } else {
      await o.beforePin?.();
    }

    // Pipelined commands written in one turn of the event loop leave together.
    conn.writer.holdPerTurn();
    link.send(`CONFIG ${urlEncode(o.cfgName)}`);
    if (!isOkStatus(await link.readStatus(null))) {
      out.debug(1, 'Config command failed.');
      await link.close();
      return null;
    }
    if (o.groupList !== null) {
      link.send(`GROUP ${urlEncode(o.groupList)}`);
      if (!isOkStatus(await link.readStatus(null))) {
        out.debug(1, 'Group command failed.');
        await link.close();
        return null;
      }
    }
  } catch (err) {
    conn.destroy();
    throw err;
  }
  return link;
}
