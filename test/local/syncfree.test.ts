/**
 * fsync is skipped only where it does nothing (src/fs/syncfree.ts): the answer
 * agrees with the file system type stat(1) reports, and a received file on
 * tmpfs (no fdatasync, no directory fsync) still lands whole, with no temp file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fsyncIsNoop } from '../../src/fs/syncfree.js';
import { patchFile, syncDirectories } from '../../src/fs/apply.js';
import { deltaStream, parseSignature, signatureOfFile } from '../../src/rsync/index.js';

/** stat(1)'s file system type of `dir`, in hex (f_type). */
function fsType(dir: string): number {
  return parseInt(execFileSync('stat', ['-f', '-c', '%t', dir]).toString().trim(), 16);
}

const MEMORY_FS = new Set([0x01021994, 0x858458f6]);
const SHM = '/dev/shm';

describe('fsync skipped only on memory file systems', () => {
  const made: string[] = [];
  after(async () => {
    for (const d of made) await rm(d, { recursive: true, force: true });
  });

  it('agrees with stat -f for /dev/shm, the temp directory and the working directory', () => {
    const dirs = [tmpdir(), process.cwd()];
    if (existsSync(SHM)) dirs.push(SHM);
    for (const d of dirs) assert.equal(fsyncIsNoop(d), MEMORY_FS.has(fsType(d)), d);
  });

  it('a directory that cannot be looked at is synced as usual', () => {
    assert.equal(fsyncIsNoop('/nonexistent-csync2-ts/dir'), false);
  });

  it('a changed file received into tmpfs lands whole, with no temp file left', async (t) => {
    if (!existsSync(SHM) || !MEMORY_FS.has(fsType(SHM))) {
      t.diagnostic('/dev/shm is not tmpfs here: the disk case below is what runs');
    }
    for (const base of [existsSync(SHM) ? SHM : tmpdir(), tmpdir()]) {
      const dir = mkdtempSync(join(base, 'csync2-ts-syncfree-'));
      made.push(dir);
      const target = join(dir, 'f.bin');
      const old = Buffer.alloc(50_000, 7);
      const next = Buffer.concat([old.subarray(0, 20_000), Buffer.from('changed in the middle'), old.subarray(20_000)]);
      writeFileSync(target, old);
      const sig = parseSignature(await signatureOfFile(target));
      await patchFile(target, deltaStream(sig, [next]), { tempdir: null, ignoreUid: false, ignoreGid: false });
      await syncDirectories([dir]);
      assert.deepEqual(readFileSync(target), next, base);
      assert.deepEqual(readdirSync(dir), ['f.bin'], base);
    }
  });
});
