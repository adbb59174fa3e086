/**
 * A raw csync2 peer for server tests: a socket from a test host's address to a daemon, optionally
 * upgraded to TLS after `SSL` (with that host's certificate, like a real client), and line/byte
 * reads with time limits, so a test can say exactly what it sends and check every reply byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { CERT_FILE_NAME, KEY_FILE_NAME } from '../../src/net/cert.js';
import type { TestHost } from '../helpers/index.js';

export const READ_TIMEOUT_MS = 5000;

export class RawPeer {
  private buf = Buffer.alloc(0);
  private ended = false;
  private waiter: (() => void) | null = null;
  private stream!: Socket | TLSSocket;

  private constructor(private readonly socket: Socket) {
    this.attach(socket);
  }

  private attach(s: Socket | TLSSocket): void {
    this.stream = s;
    s.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    s.on('end', () => { this.ended = true; this.wake(); });
    s.on('close', () => { this.ended = true; this.wake(); });
    s.on('error', () => { this.ended = true; this.wake(); });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Connect from `from`'s address to `to`'s daemon. With `tls`, send `SSL` and upgrade first. */
  static async open(from: TestHost, to: TestHost, opts: { tls?: boolean; alpn?: string[] } = {}): Promise<RawPeer> {
    const socket = await from.connect(to);
    socket.setNoDelay(true);
    const peer = new RawPeer(socket);
    if (opts.tls) await peer.upgrade(from, opts.alpn);
    return peer;
  }

  /** The application protocol agreed on in the TLS handshake (ALPN), if any. */
  alpn: string | false = false;

  /** `SSL` -> `OK (activating_ssl).` -> TLS client handshake with `host`'s key and certificate (offering `alpn`). */
  async upgrade(host: TestHost, alpn?: string[]): Promise<void> {
    this.send('SSL');
    const reply = await this.line();
    if (reply !== 'OK (activating_ssl).') throw new Error(`SSL refused: ${JSON.stringify(reply)}`);
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('end');
    this.socket.removeAllListeners('close');
    const tls = tlsConnect({
      socket: this.socket, rejectUnauthorized: false,
      key: readFileSync(join(host.sysDir, KEY_FILE_NAME)), cert: readFileSync(join(host.sysDir, CERT_FILE_NAME)),
      ALPNProtocols: alpn,
    });
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', () => resolve());
      tls.once('error', reject);
    });
    this.alpn = tls.alpnProtocol ?? false;
    this.attach(tls);
  }

  /** Write a line (LF added) or raw bytes. */
  send(data: string | Buffer): void {
    this.stream.write(typeof data === 'string' ? Buffer.from(data + '\n', 'latin1') : data);
  }

  /** Half-close: no more bytes from us (FIN, or TLS close_notify + FIN); replies can still come. */
  endOutput(): void {
    this.stream.end();
  }

  private async waitFor(ready: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.ended) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms (have ${JSON.stringify(this.buf.toString('latin1'))})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  /** The next line without its LF; null when the daemon closed the connection first. */
  async line(timeoutMs = READ_TIMEOUT_MS): Promise<string | null> {
    await this.waitFor(() => this.buf.includes(0x0a), timeoutMs);
    const nl = this.buf.indexOf(0x0a);
    if (nl < 0) return null;
    const text = this.buf.subarray(0, nl).toString('latin1');
    this.buf = this.buf.subarray(nl + 1);
    return text;
  }

  /** Exactly n bytes (fewer when the connection ends). */
  async bytes(n: number, timeoutMs = READ_TIMEOUT_MS): Promise<Buffer> {
    await this.waitFor(() => this.buf.length >= n, timeoutMs);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** `octet-stream N` and its payload. */
  async frame(): Promise<Buffer> {
    const head = await this.line();
    const m = /^octet-stream (-?\d+)$/.exec(head ?? '');
    if (!m) throw new Error(`expected a frame header, got ${JSON.stringify(head)}`);
    const n = Number(m[1]);
    return n > 0 ? this.bytes(n) : Buffer.alloc(0);
  }

  /** Resolves true once the daemon has closed the connection (false after the time limit). */
  async closed(timeoutMs = READ_TIMEOUT_MS): Promise<boolean> {
    try {
      await this.waitFor(() => false, timeoutMs);
    } catch {
      return false;
    }
    return this.ended;
  }

  /** Everything received and not read yet. */
  rest(): string {
    return this.buf.toString('latin1');
  }

  destroy(): void {
    this.stream.destroy();
    this.socket.destroy();
  }
}

/**
 * Send `lines` one at a time and read one reply line after each (null = connection closed).
 * The usual opening is `CONFIG ` and `HELLO <name>`.
 */
export async function exchange(peer: RawPeer, lines: string[]): Promise<(string | null)[]> {
  const replies: (string | null)[] = [];
  for (const l of lines) {
    peer.send(l);
    replies.push(await peer.line());
  }
  return replies;
}
