/**
 * The file system's share of an initial push, with nothing else: for each file of SRC,
 * what a receiving daemon must do at least (temp file beside the target, write the
 * content, owner, mode, mtime, rename; directories created), in one process, with no
 * network, protocol, TLS or database. Four ways:
 *   nosync    no flush at all (what csync2 does: it never calls fsync)
 *   serial    fdatasync before each rename, one at a time
 *   parallel  fdatasync on the thread pool, up to 4 files in flight
 *   grouped   src/fs/flushgroup.ts (as our daemon does): one syncfs for the files sealed
 *             meanwhile, up to 64 in flight (a client's window); where syncfs cannot
 *             serve, an fdatasync each
 * Each run writes a fresh copy under DST (left there; DST must not exist).
 *
 *   node dist/bench/fs-floor.js SRC DST
 *
 * Why: it bounds what any implementation of the push can reach on this machine. An
 * initial push ratio goal far below (floor with flush) / (real csync2's push) cannot be
 * met by a receiver that flushes each file before putting it in place.
 */
import { closeSync, constants as C, fchmodSync, fchownSync, fdatasync, fdatasyncSync, futimesSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { flushFile } from '../src/fs/flushgroup.js';
import { pathToFileURL } from 'node:url';

type Entry = { rel: string; data: Buffer | null };
export type FloorMode = 'nosync' | 'serial' | 'parallel' | 'grouped';
export const FLOOR_MODES: readonly FloorMode[] = ['nosync', 'serial', 'parallel', 'grouped'];

const pFdatasync = promisify(fdatasync);
/** Flushes at once: libuv's pool has 4 threads. */
const IN_FLIGHT = 4;
/** Files waiting for their group's flush at once (the client's window of jobs, sync/update-host.ts). */
const GROUPED_IN_FLIGHT = 64;

/** Every directory and regular file below `root`, parents first, contents read. */
export function readTree(root: string): Entry[] {
  const out: Entry[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.push({ rel: r, data: null });
        walk(`${dir}/${e.name}`, r);
      } else if (e.isFile()) {
        out.push({ rel: r, data: readFileSync(`${dir}/${e.name}`) });
      }
    }
  };
  walk(root, '');
  return out;
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

/** Write one file up to the flush; returns the fd and temp path. */
function writeTemp(target: string, data: Buffer): { fd: number; temp: string } {
  const slash = target.lastIndexOf('/');
  const temp = `${target.slice(0, slash + 1)}.${target.slice(slash + 1)}.floor`;
  const fd = openSync(temp, C.O_RDWR | C.O_CREAT | C.O_EXCL, 0o600);
  writeSync(fd, data);
  fchownSync(fd, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
  fchmodSync(fd, 0o644);
  futimesSync(fd, 1_700_000_000, 1_700_000_000);
  return { fd, temp };
}

/** Write `entries` as a fresh tree at `dst` (must not exist) the `mode` way; returns milliseconds. */
export async function replayTree(entries: Entry[], dst: string, mode: FloorMode): Promise<number> {
  const t0 = process.hrtime.bigint();
  mkdirSync(dst);
  const flying: Promise<void>[] = [];
  for (const { rel, data } of entries) {
    const target = dst + rel;
    if (data === null) {
      mkdirSync(target); // before its files: readTree lists parents first
      continue;
    }
    const { fd, temp } = writeTemp(target, data);
    const finish = (): void => {
      closeSync(fd);
      renameSync(temp, target);
    };
    if (mode === 'nosync') finish();
    else if (mode === 'serial') {
      fdatasyncSync(fd);
      finish();
    } else if (mode === 'grouped') {
      if (flying.length >= GROUPED_IN_FLIGHT) await flying.shift();
      flying.push(flushFile(fd, dirOf(target)).then(finish));
    } else {
      if (flying.length >= IN_FLIGHT) await flying.shift();
      flying.push(pFdatasync(fd).then(finish));
    }
  }
  await Promise.all(flying);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const [src, dst] = process.argv.slice(2);
  if (!src || !dst) {
    console.error('usage: node dist/bench/fs-floor.js SRC DST');
    process.exit(2);
  }
  const entries = readTree(src);
  const files = entries.filter((e) => e.data !== null).length;
  mkdirSync(dst);
  for (const mode of FLOOR_MODES) {
    // The dirty data of the mode before out of the way first: a syncfs (grouped) would write it too.
    spawnSync('sync');
    const ms = await replayTree(entries, `${dst}/${mode}`, mode);
    console.log(`${mode.padEnd(8)} ${files} files: ${(ms / 1000).toFixed(2)} s (${((ms * 1000) / files).toFixed(0)} us/file)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
