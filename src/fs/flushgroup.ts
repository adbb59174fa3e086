/**
 * Durability of received files in groups: one syncfs() for every temp file written
 * since the last one, instead of an fdatasync() per file (src/fs/apply.ts seal()).
 *
 * A file joins the group of its file system and is durable once a syncfs() that
 * began after it joined has returned. One call is in flight per file system; the
 * files sealed meanwhile go with the next one (group commit), so the group's size
 * follows the rate at which files arrive. A first push of 10k small files on this
 * VM's ext4 (bench/update tree10k, ours->ours, runs alternated): daemon CPU 4.9-6.0 ->
 * 3.5-4.3 s, the push 4.9-6.0 -> 4.4-5.1 s.
 *
 * syncfs() has no binding in node: a small helper (src/launcher/syncfs.c) makes the
 * calls. Groups are used only where that helper was built, on local disk file systems
 * whose syncfs() writes back every file (syncfree.ts syncfsReliable()). A failed call
 * falls back to fdatasync() of each file of the group, and a slow one (a file system
 * full of other programs' dirty data: syncfs() writes theirs too) turns groups off
 * for a while, so one busy disk never holds replies back for long.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { close, constants as C, existsSync, fdatasync, fsync, open } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fsPath, toBuf, type BStr } from '../util/bytes.js';
import { log } from '../util/log.js';
import { lstatDir } from './dirstat.js';
import { syncfsReliable } from './syncfree.js';

const pFdatasync = promisify(fdatasync);
const pFsync = promisify(fsync);
const pOpen = promisify(open);
const pClose = promisify(close);

/**
 * Fewer files than this go by their own fdatasync() (in parallel): a syncfs() for one file
 * costs about twice an fdatasync() here (0.58 vs 0.29-0.37 ms), and a client that waits for
 * every reply (a C csync2) never has more than one file waiting.
 */
const GROUP_MIN = 3;
/** A syncfs() slower than this turns groups off for PAUSE_MS. */
const SLOW_MS = 2000;
const PAUSE_MS = 60_000;

/** The helper beside the bundle (dist/launcher) or beside the ES modules' dist/src/fs. */
function helperPath(): string | null {
  for (const rel of ['./launcher/csync2-syncfs', '../../launcher/csync2-syncfs']) {
    let p: string;
    try {
      p = fileURLToPath(new URL(rel, import.meta.url));
    } catch {
      continue;
    }
    if (existsSync(p)) return p;
  }
  return null;
}

/** The helper process: one request at a time per line, answers in order. */
class SyncfsHelper {
  private child: ChildProcess | null = null;
  /** It could not be started (not executable, say): every request fails at once from then on. */
  private broken = false;
  private readonly waiting: ((errno: number) => void)[] = [];
  private buffered = '';

  constructor(private readonly path: string) {}

  /** syncfs() of the file system holding `dir`: 0, or the errno (-1: the helper is gone). */
  request(dir: BStr): Promise<number> {
    const child = this.broken ? null : this.start();
    if (child === null) return Promise.resolve(-1);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      // Kept referenced while a call is out: a daemon finishing its last files must wait for it.
      this.setRef(true);
      child.stdin!.write(toBuf(`${dir}\n`));
    });
  }

  private start(): ChildProcess | null {
    if (this.child !== null) return this.child;
    let child: ChildProcess;
    try {
      // In a process group of its own: a signal to the daemon's group would leave it a zombie
      // whom the dying daemon never reaps. It ends at end of input, when the daemon is gone.
      child = spawn(this.path, [], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    } catch {
      this.broken = true;
      return null;
    }
    this.child = child;
    child.stdout!.setEncoding('latin1');
    child.stdout!.on('data', (text: string) => {
      this.buffered += text;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const errno = Number(this.buffered.slice(0, nl));
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.shift()?.(Number.isInteger(errno) ? errno : -1);
      }
      if (this.waiting.length === 0) this.setRef(false);
    });
    const gone = (): void => {
      if (this.child !== child) return;
      this.child = null;
      this.buffered = '';
      for (const w of this.waiting.splice(0)) w(-1);
    };
    child.on('error', () => {
      if (child.pid === undefined) this.broken = true; // spawn() itself failed
      gone();
    });
    child.on('exit', gone);
    child.stdin!.on('error', gone);
    this.setRef(false);
    return child;
  }

  private setRef(on: boolean): void {
    const c = this.child;
    if (c === null) return;
    const handles = [c, c.stdin, c.stdout] as ({ ref(): void; unref(): void } | null)[];
    for (const h of handles) {
      if (h === null || typeof h.ref !== 'function') continue;
      if (on) h.ref();
      else h.unref();
    }
  }
}

interface Member {
  /** Makes this member durable on its own (fdatasync() of the file, fsync() of the directory). */
  alone: () => Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The files of one file system waiting for its next syncfs(). */
class FlushGroup {
  private members: Member[] = [];
  private running = false;
  private scheduled = false;
  /** A directory on that file system (the newest one a member was written in). */
  private dir: BStr = '/';

  constructor(private readonly helper: SyncfsHelper) {}

  join(dir: BStr, alone: () => Promise<void>): Promise<void> {
    this.dir = dir;
    const done = new Promise<void>((resolve, reject) => this.members.push({ alone, resolve, reject }));
    this.schedule();
    return done;
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // After the current turn: the files sealed in it go together.
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running || this.members.length === 0) return;
    this.running = true;
    const batch = this.members;
    this.members = [];
    const started = Date.now();
    try {
      if (batch.length < GROUP_MIN) {
        await Promise.all(batch.map((m) => m.alone().then(m.resolve, m.reject)));
        return;
      }
      const errno = await this.helper.request(this.dir);
      const took = Date.now() - started;
      if (took > SLOW_MS) {
        pausedUntil = Date.now() + PAUSE_MS;
        log.debug(2, `syncfs() took ${took} ms: received files are flushed one by one for a while.`);
      }
      if (errno === 0) {
        for (const m of batch) m.resolve();
      } else {
        // The helper failed or is gone: each file on its own, as without groups.
        await Promise.all(batch.map((m) => m.alone().then(m.resolve, m.reject)));
      }
    } finally {
      this.running = false;
      if (this.members.length > 0) this.schedule();
    }
  }
}

/** fdatasync(), or fsync() where that is not supported. */
function flushOne(fd: number): Promise<void> {
  return pFdatasync(fd).catch(() => pFsync(fd));
}

let helper: SyncfsHelper | null | undefined;
const groups = new Map<number, FlushGroup>();
let pausedUntil = 0;

/** The group of the file system holding `dir`, or null where a group cannot serve. */
function groupOf(dir: BStr): FlushGroup | null {
  if (helper === undefined) {
    const path = helperPath();
    helper = path === null ? null : new SyncfsHelper(path);
  }
  // (A directory name with a line feed cannot be a request line.)
  if (helper === null || Date.now() < pausedUntil || dir.includes('\n') || !syncfsReliable(dir)) return null;
  // (The daemon's directory stats are remembered: no system call per file for this.)
  const dev = lstatDir(dir)?.dev;
  if (dev === undefined) return null;
  let g = groups.get(dev);
  if (g === undefined) groups.set(dev, (g = new FlushGroup(helper)));
  return g;
}

/**
 * Make the content written to `fd` (a temp file in directory `dir`) durable: in a
 * group where that is possible, else by its own fdatasync().
 */
export function flushFile(fd: number, dir: BStr): Promise<void> {
  const alone = (): Promise<void> => flushOne(fd);
  return groupOf(dir)?.join(dir, alone) ?? alone();
}

/** Make the entries of directory `dir` durable (after renames into it): in a group, else by its own fsync(). */
export function flushDirectory(dir: BStr): Promise<void> {
  const alone = (): Promise<void> => fsyncDirectory(dir);
  return groupOf(dir)?.join(dir, alone) ?? alone();
}

/** fsync() of a directory; nothing when it cannot be opened (gone, or not ours: nothing to make durable). */
async function fsyncDirectory(dir: BStr): Promise<void> {
  let fd: number;
  try {
    fd = await pOpen(fsPath(dir), C.O_RDONLY | C.O_DIRECTORY);
  } catch {
    return;
  }
  try {
    await pFsync(fd).catch(() => undefined);
  } finally {
    await pClose(fd).catch(() => undefined);
  }
}
