/**
 * New files written off the daemon's main thread: create the temp file, write its
 * content, then owner, mode and mtime, in a worker thread, in batches. The main thread
 * meanwhile reads and checks the next commands; it learns each step's result (the
 * descriptor stays open: threads share the process's descriptors) and goes on as the
 * synchronous path would (flush, rename, row). Why: those five system calls were ~60 us
 * of the ~250 us of main-thread time a received small file cost (tree10k initial push).
 *
 * runNewFile() is the one implementation of the steps: the worker runs its source, and
 * the main thread runs it itself for a file whose temp file had to be made another way.
 */
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs';

/** One new file: what to create and what to set (null = leave as created). */
export interface NewFileJob {
  /** The temp file to create (O_EXCL, 0600), latin1 bytes; or `fd` when it is open already. */
  path: string;
  fd?: number;
  data: Uint8Array;
  uid: number | null;
  gid: number | null;
  mode: number | null;
  /** Seconds since the epoch (atime and mtime). */
  mtime: number | null;
}

/** An OS error as it crossed the thread boundary (strerror() reads `code`). */
export interface StepError {
  code?: string;
  message: string;
}

/** The outcome of each step; a failed create or write ends the job (fd -1 after a failed create). */
export interface NewFileResult {
  fd: number;
  create?: StepError;
  write?: StepError;
  owner?: StepError;
  mode?: StepError;
  mtime?: StepError;
}

/**
 * Seconds as utimes() takes them (also SETIME's, filecmds.ts). Node turns a negative number
 * into "now"; a Date keeps a time before 1970 (csync2 sets it as sent), down to the earliest
 * a Date holds (100 million days before 1970). Self-contained: its source runs in the worker.
 */
export function utimesValue(t: number): number | Date {
  return t >= 0 ? t : new Date(Math.max(t, -8.64e12) * 1000);
}

/**
 * The steps, self-contained (its source runs in the worker: only its parameters and
 * globals). `f` is node:fs, `timeOf` utimesValue().
 */
export function runNewFile(f: typeof fs, job: NewFileJob, timeOf: (t: number) => number | Date): NewFileResult {
  const oops = (e: unknown): StepError => ({ code: (e as NodeJS.ErrnoException).code, message: String((e as Error).message) });
  let fd = job.fd ?? -1;
  if (fd < 0) {
    try {
      fd = f.openSync(Buffer.from(job.path, 'latin1'), f.constants.O_RDWR | f.constants.O_CREAT | f.constants.O_EXCL, 0o600);
    } catch (e) {
      return { fd: -1, create: oops(e) };
    }
  }
  const out: NewFileResult = { fd };
  try {
    for (let off = 0; off < job.data.length;) off += f.writeSync(fd, job.data, off, job.data.length - off);
  } catch (e) {
    out.write = oops(e);
    return out;
  }
  if (job.uid !== null || job.gid !== null) {
    try {
      f.fchownSync(fd, job.uid ?? -1, job.gid ?? -1);
    } catch (e) {
      out.owner = oops(e);
    }
  }
  if (job.mode !== null) {
    try {
      f.fchmodSync(fd, job.mode);
    } catch (e) {
      out.mode = oops(e);
    }
  }
  if (job.mtime !== null) {
    const t = timeOf(job.mtime);
    try {
      f.futimesSync(fd, t, t);
    } catch (e) {
      out.mtime = oops(e);
    }
  }
  return out;
}

/**
 * A batch crosses the thread boundary as one transferred buffer (the structured clone of
 * one object per file cost ~25 us of the main thread per file): per job, the path and the
 * content with their lengths, then fd, uid, gid, mode and mtime as doubles (NaN = none).
 */
export function packJobs(jobs: readonly NewFileJob[]): ArrayBuffer {
  let size = 0;
  for (const j of jobs) size += 8 + j.path.length + j.data.length + 5 * 8;
  // Every byte is written below: no zero fill (a fresh ArrayBuffer's memset, and its page faults).
  const buf = Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer;
  const bytes = new Uint8Array(buf);
  const view = new DataView(buf);
  let at = 0;
  const num = (v: number | null | undefined): void => {
    view.setFloat64(at, v ?? NaN);
    at += 8;
  };
  for (const j of jobs) {
    view.setUint32(at, j.path.length);
    at += 4;
    at += Buffer.from(bytes.buffer, at, j.path.length).write(j.path, 'latin1');
    view.setUint32(at, j.data.length);
    at += 4;
    bytes.set(j.data, at);
    at += j.data.length;
    num(j.fd);
    num(j.uid);
    num(j.gid);
    num(j.mode);
    num(j.mtime);
  }
  return buf;
}

/** packJobs() read back (the data are views into `buf`). Self-contained: its source runs in the worker. */
export function unpackJobs(buf: ArrayBuffer): NewFileJob[] {
  const bytes = new Uint8Array(buf);
  const view = new DataView(buf);
  const jobs: NewFileJob[] = [];
  let at = 0;
  while (at < bytes.length) {
    const pathLen = view.getUint32(at);
    at += 4;
    const path = Buffer.from(buf, at, pathLen).toString('latin1');
    at += pathLen;
    const dataLen = view.getUint32(at);
    at += 4;
    const data = bytes.subarray(at, at + dataLen);
    at += dataLen;
    const v: (number | null)[] = [];
    for (let k = 0; k < 5; k++, at += 8) {
      const x = view.getFloat64(at);
      v.push(Number.isNaN(x) ? null : x);
    }
    jobs.push({ path, data, fd: v[0] ?? undefined, uid: v[1]!, gid: v[2]!, mode: v[3]!, mtime: v[4]! });
  }
  return jobs;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const runNewFile = ${runNewFile.toString()};
const unpackJobs = ${unpackJobs.toString()};
const utimesValue = ${utimesValue.toString()};
parentPort.on('message', (buf) => {
  parentPort.postMessage(unpackJobs(buf).map((job) => runNewFile(fs, job, utimesValue)));
});
`;

interface Waiting {
  resolve: (r: NewFileResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Files queued that leave at once instead of at the end of the turn: the main thread reads a
 * burst of commands (tens of files) in one turn, and the thread writes while the rest are read
 * (tree10k initial push, medians of 4: 8 -> 3.4 s, 16 or only at the turn's end -> 3.7 s).
 * One thread: two or three did not help (the files of a directory are created one after the
 * other anyway, under its lock).
 */
const POST_AT = 8;

class NewFileWorker {
  private worker: Worker | null = null;
  /** The batches handed to the thread, oldest first (it answers them in order). */
  private readonly inFlight: Waiting[][] = [];
  private broken = false;
  private queued: NewFileJob[] = [];
  private queuedWaiting: Waiting[] = [];
  private scheduled = false;

  /** False once the thread failed: callers take the synchronous path from then on. */
  get usable(): boolean {
    return !this.broken;
  }

  /** Start the thread ahead of the first job (it takes tens of milliseconds). */
  warm(): void {
    this.start();
  }

  run(job: NewFileJob): Promise<NewFileResult> {
    return new Promise((resolve, reject) => {
      if (this.broken) {
        reject(new Error('no file worker'));
        return;
      }
      this.queued.push(job);
      this.queuedWaiting.push({ resolve, reject });
      if (this.queued.length >= POST_AT) this.post();
      else if (!this.scheduled) {
        this.scheduled = true;
        // The files of this turn go together.
        setImmediate(() => {
          this.scheduled = false;
          if (this.queued.length > 0) this.post();
        });
      }
    });
  }

  private post(): void {
    const w = this.start();
    if (w === null) return;
    const buf = packJobs(this.queued);
    this.inFlight.push(this.queuedWaiting);
    this.queued = [];
    this.queuedWaiting = [];
    w.ref();
    w.postMessage(buf, [buf]);
  }

  private start(): Worker | null {
    if (this.broken) return null;
    if (this.worker !== null) return this.worker;
    let w: Worker;
    try {
      // trackUnmanagedFds off: the descriptors it opens are the main thread's to close, also after it ends.
      w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], stdout: false, stderr: false, trackUnmanagedFds: false });
    } catch {
      this.fail(new Error('no file worker'));
      return null;
    }
    this.worker = w;
    w.unref();
    w.on('message', (results: NewFileResult[]) => {
      const waiting = this.inFlight.shift() ?? [];
      if (this.inFlight.length === 0) w.unref();
      waiting.forEach((x, i) => x.resolve(results[i] ?? { fd: -1, create: { message: 'no result' } }));
    });
    w.on('error', (err) => this.fail(err));
    w.on('exit', (code) => this.fail(new Error(`file worker exited (${code})`)));
    return w;
  }

  /** The thread failed: everything waiting fails over to the caller's synchronous way, and so does all that follows. */
  private fail(err: unknown): void {
    if (this.broken) return;
    this.broken = true;
    const lost = [...this.inFlight.splice(0).flat(), ...this.queuedWaiting];
    this.queued = [];
    this.queuedWaiting = [];
    for (const x of lost) x.reject(err);
  }
}

let shared: NewFileWorker | null = null;

/** The process's file worker (one for every session of a -ii daemon). */
export function newFileWorker(): NewFileWorker {
  return (shared ??= new NewFileWorker());
}

/** The same steps on this thread (a temp file made the slow way, or no worker). */
export function runNewFileHere(job: NewFileJob): NewFileResult {
  return runNewFile(fs, job, utimesValue);
}
