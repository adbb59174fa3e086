/**
 * Command pipelining on one connection. Commands are written in the order
 * they are requested; each brings a reader for its reply, and one reader loop
 * runs those readers in the same order (a csync2 server answers strictly in
 * command order), handing each result to whoever asked. So many files' commands
 * can be in flight while replies are read as they arrive.
 *
 * A PATCH is the exception: after it the server reads the delta, so nothing
 * else may be written until the delta is out. `exclusive()` holds the writer
 * for such an exchange.
 */
import type { ErrorCounter, PeerLink } from '../net/client.js';
import type { BStr } from '../util/bytes.js';
import type { UpdateOut } from './update-output.js';

/** Who a command belongs to: its messages and error count. */
export interface JobIo {
  readonly out: UpdateOut;
  readonly errors: ErrorCounter;
}

interface Pending {
  io: JobIo;
  read: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** What the holder of the writer can do. */
export interface ExclusiveWriter {
  /** Write a line now. */
  line(line: BStr): void;
  /** Queue the reader of the next reply (for data written some other way). */
  expect<T>(read: () => Promise<T>): Promise<T>;
}

export class CommandPipe {
  private readonly queue: Pending[] = [];
  private head = 0;
  private reading = false;
  private failure: unknown = null;
  private locked = false;
  private readonly lockWaiters: (() => void)[] = [];
  /** Replies still to be read. */
  inFlight = 0;

  constructor(readonly link: PeerLink) {}

  /** Send `line` and run `read` on its reply when its turn in the reply stream comes. */
  async request<T>(io: JobIo, line: BStr, read: () => Promise<T>): Promise<T> {
    await this.lock();
    try {
      this.write(io, line);
      return this.enqueue(io, read);
    } finally {
      this.unlock();
    }
  }

  /** Run `fn` with the writer to itself (other requests wait until it returns). */
  async exclusive<T>(io: JobIo, fn: (w: ExclusiveWriter) => Promise<T>): Promise<T> {
    await this.lock();
    try {
      return await fn({
        line: (l) => this.write(io, l),
        expect: (read) => this.enqueue(io, read),
      });
    } finally {
      this.unlock();
    }
  }

  /** Point the write-side wire dump at `io` (for frames written by the writer's holder). */
  tapWrites(io: JobIo): void {
    this.link.writeTap = io.out.tap;
  }

  private write(io: JobIo, line: BStr): void {
    this.link.writeTap = io.out.tap;
    this.link.send(line);
  }

  private enqueue<T>(io: JobIo, read: () => Promise<T>): Promise<T> {
    this.inFlight++;
    const p = new Promise<T>((resolve, reject) => {
      this.queue.push({ io, read, resolve: resolve as (v: unknown) => void, reject });
    });
    if (!this.reading) void this.readLoop();
    return p;
  }

  private async readLoop(): Promise<void> {
    this.reading = true;
    try {
      while (this.head < this.queue.length) {
        const p = this.queue[this.head]!;
        this.queue[this.head++] = undefined as unknown as Pending;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        this.inFlight--;
        if (this.failure !== null) {
          p.reject(this.failure);
          continue;
        }
        this.link.readTap = p.io.out.tap;
        try {
          p.resolve(await p.read());
        } catch (err) {
          // The stream is out of step now: every later reply fails the same way.
          this.failure = err;
          p.reject(err);
        }
      }
    } finally {
      this.reading = false;
    }
  }

  private lock(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.lockWaiters.push(resolve));
  }

  private unlock(): void {
    const next = this.lockWaiters.shift();
    if (next) next();
    else this.locked = false;
  }
}
