/**
 * Received files made durable in groups (src/fs/flushgroup.ts): the syncfs helper's answers,
 * one syncfs for files sealed together where the file system's syncfs covers them (else an
 * fdatasync each), the fallback to an fdatasync per file when the group's syncfs fails, and the
 * helper's end with the process that started it.
 * The flushes are counted by strace around a small node program using the module.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { syncfsReliable } from '../../src/fs/syncfree.js';
import { REPO_ROOT } from '../helpers/paths.js';

const HELPER = join(REPO_ROOT, 'dist', 'launcher', 'csync2-syncfs');
const MODULE = join(REPO_ROOT, 'dist', 'src', 'fs', 'flushgroup.js');
const FILES = 30;

/** A program that writes FILES files in DIR and flushes them in one turn; with `move`, DIR is renamed first. */
function program(dir: string, move: boolean): string {
  return `
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { flushFile } from ${JSON.stringify(MODULE)};
const dir = ${JSON.stringify(dir)};
const fds = [];
for (let i = 0; i < ${FILES}; i++) {
  const fd = openSync(dir + '/f' + i, 'w');
  writeSync(fd, Buffer.alloc(4096, i));
  fds.push(fd);
}
const done = fds.map((fd) => flushFile(fd, dir));
${move ? "renameSync(dir, dir + '.moved');" : ''}
await Promise.all(done);
for (const fd of fds) closeSync(fd);
console.log('flushed');
`;
}

/** Pids of the children of `parent` running `exe`. */
function childrenRunning(parent: number, exe: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0')[0] === exe) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Run `src` under strace; the number of syncfs and fdatasync calls (the helper's included). */
function traced(work: string, src: string): { syncfs: number; fdatasync: number; out: string } {
  const file = join(work, `prog-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, src);
  const trace = `${file}.trace`;
  const out = execFileSync('strace', ['-f', '-qq', '-e', 'trace=syncfs,fdatasync', '-o', trace, process.execPath, file]).toString();
  const lines = readFileSync(trace, 'latin1').split('\n');
  const count = (name: string): number => lines.filter((l) => new RegExp(`\\b${name}\\(`).test(l) && !l.includes('resumed>')).length;
  return { syncfs: count('syncfs'), fdatasync: count('fdatasync'), out };
}

describe('received files flushed in groups', () => {
  const made: string[] = [];
  after(async () => {
    for (const d of made) await rm(d, { recursive: true, force: true });
  });
  const workDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'csync2-ts-flushgroup-'));
    made.push(d);
    return d;
  };

  it('make build compiles the helper; it answers 0 for a directory and the errno for a missing one', () => {
    assert.ok(existsSync(HELPER), 'dist/launcher/csync2-syncfs');
    const r = spawnSync(HELPER, [], { input: `${tmpdir()}\n/nonexistent-csync2-ts/dir\n${tmpdir()}\n` });
    assert.equal(r.status, 0);
    assert.equal(r.stdout.toString(), '0\n2\n0\n');
  });

  it('files sealed together: one syncfs where it covers them, else an fdatasync each', () => {
    const work = workDir();
    const dir = join(work, 'data');
    execFileSync('mkdir', [dir]);
    const r = traced(work, program(dir, false));
    assert.equal(r.out.trim(), 'flushed');
    if (syncfsReliable(dir)) {
      assert.ok(r.syncfs >= 1 && r.syncfs <= 2, `syncfs calls: ${r.syncfs}`);
      assert.equal(r.fdatasync, 0);
    } else {
      assert.equal(r.syncfs, 0);
      assert.equal(r.fdatasync, FILES);
    }
  });

  it('the helper ends when its process is killed (no helper outlives a daemon)', async (t) => {
    const work = workDir();
    const dir = join(work, 'data');
    execFileSync('mkdir', [dir]);
    if (!syncfsReliable(dir)) {
      t.diagnostic(`${dir} is not on ext4, xfs or btrfs: no helper is started here`);
      return;
    }
    const file = join(work, 'hold.mjs');
    // Flushes once (the helper starts), then stays alive until killed.
    writeFileSync(file, program(dir, false).replace("console.log('flushed');", "console.log('flushed'); setInterval(() => {}, 1000);"));
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('flushed')) resolve(); });
        child.on('exit', () => reject(new Error('the program ended early')));
      });
      const helpers = childrenRunning(child.pid!, HELPER);
      assert.equal(helpers.length, 1, 'one helper started');
      child.kill('SIGKILL');
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && helpers.some(alive)) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(helpers.filter(alive), [], 'the helper is gone');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a group whose syncfs fails (its directory gone) falls back to an fdatasync per file', (t) => {
    const work = workDir();
    const dir = join(work, 'data');
    execFileSync('mkdir', [dir]);
    if (!syncfsReliable(dir)) t.diagnostic(`${dir} is not on ext4, xfs or btrfs: no groups here`);
    const r = traced(work, program(dir, true));
    assert.equal(r.out.trim(), 'flushed');
    assert.equal(r.syncfs, 0);
    assert.equal(r.fdatasync, FILES);
  });
});
