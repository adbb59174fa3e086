/**
 * One csync2 connection, either side: the byte stream (TCP socket, or the
 * stdin/stdout pair of `-i`), a LineReader and a LineWriter on it, the peer's
 * address, and an in-place upgrade to TLS that swaps reader and writer for ones
 * on the TLS stream without losing read-ahead bytes.
 */
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { BStr } from '../util/bytes.js';
import { LineReader } from '../protocol/linereader.js';
import { LineWriter } from '../protocol/linewriter.js';
import type { WireTap } from '../protocol/wiredump.js';
import { EXTENSIONS_ALPN_ALL, peerCertHex, upgradeClient, upgradeServer, type TlsCredentials } from './tls.js';
import { watchSilence } from './peer-timeout.js';

export interface ConnectionInit {
  /**
   * Peer address as csync2 prints it (inet_ntop: dotted quad, or IPv6 text
   * including `::ffff:a.b.c.d` on a dual-stack socket); null if unknown
   * (`Dear stranger, ...`). Compare it with addressMatches().
   */
  peerIp: string | null;
  peerPort?: number | null;
  /** -vvv dumps of both directions (stderrWireTap()); null = none. */
  tap?: WireTap | null;
}

let nextId = 1;
/** How long close() waits for unsent data (csync2 sets SO_LINGER to 5 s). */
const CLOSE_LINGER_MS = 5000;

export class Connection {
  reader: LineReader;
  writer: LineWriter;
  readonly peerIp: string | null;
  readonly peerPort: number | null;
  /** Sequential number of this connection in the process (for per-session log prefixes). */
  readonly id = nextId++;
  private stream: Duplex;
  private tlsSocket: TLSSocket | null = null;
  private readonly tap: WireTap | null;
  /** The silence watch of dropWhenSilent(), moved to the TLS socket by an upgrade. */
  private silence: { ms: number; onTimeout: () => void; cancel: () => void } | null = null;

  constructor(stream: Duplex, init: ConnectionInit) {
    this.stream = stream;
    this.peerIp = init.peerIp;
    this.peerPort = init.peerPort ?? null;
    this.tap = init.tap ?? null;
    this.reader = new LineReader(stream, { tap: this.tap });
    this.writer = new LineWriter(stream, { tap: this.tap });
  }

  /** A connection on separate read and write streams (`-i` over pipes). */
  static fromPair(input: Readable, output: Writable, init: ConnectionInit): Connection {
    return new Connection(Duplex.from({ readable: input, writable: output }), init);
  }

  /** The stream currently carrying the protocol (the TLS socket after an upgrade). */
  get socket(): Duplex {
    return this.tlsSocket ?? this.stream;
  }

  get usesTls(): boolean {
    return this.tlsSocket !== null;
  }

  get tls(): TLSSocket | null {
    return this.tlsSocket;
  }

  /** Convenience: read one line (see LineReader.readLine). */
  readLine(maxSize: number): Promise<BStr | null> {
    return this.reader.readLine(maxSize);
  }

  /** Convenience: send one line (LF appended). */
  sendLine(text: BStr): Promise<void> {
    return this.writer.sendLine(text);
  }

  /** Drop the connection after `ms` without traffic (peer-timeout.ts); `onTimeout` says why first. */
  dropWhenSilent(ms: number, onTimeout: () => void): void {
    this.silence?.cancel();
    this.silence = { ms, onTimeout, cancel: watchSilence(this.socket, ms, onTimeout) };
  }

  /** Server role after `OK (activating_ssl).` was sent. Rejects with FatalError on failure. */
  async upgradeToTlsServer(creds: TlsCredentials): Promise<void> {
    const readAhead = this.handOver();
    this.attach(await upgradeServer(this.stream, readAhead, creds));
  }

  /** Client role after `OK (activating_ssl).` was received. Rejects with FatalError on failure. */
  async upgradeToTlsClient(creds: TlsCredentials, servername?: string, offerExtensions = false): Promise<void> {
    const readAhead = this.handOver();
    if (readAhead.length > 0) this.stream.unshift(readAhead);
    this.attach(await upgradeClient(this.stream, creds, servername, offerExtensions));
  }

  /** Both ends are csync2-ts and agreed on its extensions (EXTENSIONS_ALPN) in the TLS handshake. */
  get extensions(): boolean {
    return this.extensionVersion >= 1;
  }

  /** The extensions' version both ends agreed on: 0 = none (a real csync2 at either end), 1 to 5. */
  get extensionVersion(): number {
    // EXTENSIONS_ALPN_ALL lists the versions from the newest down to 1.
    const i = EXTENSIONS_ALPN_ALL.indexOf(this.tlsSocket?.alpnProtocol as string);
    return i < 0 ? 0 : EXTENSIONS_ALPN_ALL.length - i;
  }

  /** The peer's certificate as UPPERCASE DER hex (x509_cert.certdata); null on plain connections. */
  peerCertHex(): BStr | null {
    return this.tlsSocket ? peerCertHex(this.tlsSocket) : null;
  }

  /** Flush (at most `lingerMs`), send end of stream (TLS close_notify + FIN) and release the socket. */
  async close(lingerMs = CLOSE_LINGER_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const linger = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, lingerMs);
    });
    await Promise.race([this.writer.end(), linger]);
    clearTimeout(timer);
    this.destroy();
  }

  /** Drop the connection at once. */
  destroy(): void {
    this.tlsSocket?.destroy();
    this.stream.destroy();
  }

  private handOver(): Buffer {
    if (this.tlsSocket) throw new Error('connection already uses TLS');
    this.writer.detach();
    return this.reader.takeBuffered();
  }

  private attach(tlsSocket: TLSSocket): void {
    this.tlsSocket = tlsSocket;
    // The plain socket sees no traffic of its own once TLS runs on it.
    if (this.silence) {
      this.silence.cancel();
      this.silence.cancel = watchSilence(tlsSocket, this.silence.ms, this.silence.onTimeout);
    }
    this.reader = new LineReader(tlsSocket, { tap: this.tap });
    this.writer = new LineWriter(tlsSocket, { tap: this.tap });
  }
}
