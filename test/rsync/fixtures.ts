/**
 * Shared pieces of the rsync tests: a seeded generator of file contents and
 * edits, temp directories, the real rdiff, and our engine run in-process on
 * files (the same calls the network layer makes).
 */
import { execFile } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deltaFile, parseSignature, patchToFile, signatureOfFile, type SigOptions } from '../../src/rsync/index.js';

export const RDIFF = '/usr/bin/rdiff';

/** A temp directory removed when the returned cleanup runs. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `csync2-ts-rsync-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** xorshift32: reproducible pseudo-random bytes, fast enough for 20 MiB files. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed | 0) || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    this.s = x;
    return x >>> 0;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.next() / 0x100000000) * n);
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    const words = Math.floor(n / 4);
    for (let i = 0; i < words; i++) out.writeInt32LE(this.next() | 0, 4 * i);
    for (let i = words * 4; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

export const EDITS = [
  'identical', 'different', 'insert', 'delete', 'overwrite', 'append', 'prepend',
  'truncate-half', 'empty', 'from-empty', 'shuffle-blocks', 'repeated-blocks',
] as const;
export type Edit = typeof EDITS[number];

/** The basis and new contents for one generated case. */
export function makeCase(size: number, edit: Edit, seed: number): { basis: Buffer; next: Buffer } {
  const rng = new Rng(seed);
  let basis = rng.bytes(size);
  const span = (): number => 1 + rng.below(Math.max(1, Math.floor(size / 8)));
  switch (edit) {
    case 'identical': return { basis, next: basis };
    case 'different': return { basis, next: rng.bytes(size) };
    case 'insert': {
      const at = rng.below(size + 1);
      return { basis, next: Buffer.concat([basis.subarray(0, at), rng.bytes(span()), basis.subarray(at)]) };
    }
    case 'delete': {
      const at = rng.below(size + 1);
      return { basis, next: Buffer.concat([basis.subarray(0, at), basis.subarray(Math.min(size, at + span()))]) };
    }
    case 'overwrite': {
      const next = Buffer.from(basis);
      const at = rng.below(size + 1);
      const piece = rng.bytes(Math.min(span(), size - at));
      piece.copy(next, at);
      return { basis, next };
    }
    case 'append': return { basis, next: Buffer.concat([basis, rng.bytes(span())]) };
    case 'prepend': return { basis, next: Buffer.concat([rng.bytes(span()), basis]) };
    case 'truncate-half': return { basis, next: basis.subarray(0, Math.floor(size / 2)) };
    case 'empty': return { basis, next: Buffer.alloc(0) };
    case 'from-empty': return { basis: Buffer.alloc(0), next: basis };
    case 'shuffle-blocks': {
      const unit = 2048;
      const pieces: Buffer[] = [];
      for (let p = 0; p < size; p += unit) pieces.push(basis.subarray(p, Math.min(size, p + unit)));
      for (let i = pieces.length - 1; i > 0; i--) {
        const j = rng.below(i + 1);
        [pieces[i], pieces[j]] = [pieces[j], pieces[i]];
      }
      return { basis, next: Buffer.concat(pieces) };
    }
    case 'repeated-blocks': {
      // Few distinct 512-byte patterns: identical blocks in the basis, matches at odd offsets.
      const patterns = [rng.bytes(512), rng.bytes(512), Buffer.alloc(512, 0x61)];
      basis = Buffer.alloc(size);
      for (let p = 0; p < size; p += 512) patterns[rng.below(3)].copy(basis, p);
      const next = Buffer.concat([basis.subarray(0, Math.floor(size / 3)), rng.bytes(rng.below(700)),
        basis.subarray(Math.floor(size / 3))]);
      return { basis, next };
    }
  }
}

export interface ProcResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real rdiff (killed after timeoutMs). */
export function rdiff(args: string[], timeoutMs = 60_000): Promise<ProcResult> {
  return runProc(RDIFF, args, timeoutMs);
}

export function runProc(cmd: string, args: string[], timeoutMs = 60_000, input?: Buffer): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'buffer', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 30 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        if (err && code === -1) { reject(err); return; }
        resolve({ code, stdout, stderr: stderr.toString('utf8') });
      });
    if (input) child.stdin?.end(input); else child.stdin?.end();
  });
}

/**
 * Runs many rdiff commands in one shell (spawning from node costs ~20 ms each;
 * the matrix needs hundreds). Resolves with the indexes of the commands that failed.
 */
export async function rdiffBatch(dir: string, commands: string[][], timeoutMs = 300_000): Promise<Map<number, number>> {
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const script = commands.map((c, i) => `${RDIFF} -f ${c.map(quote).join(' ')} 2>/dev/null || echo "failed ${i} $?"`).join('\n');
  const path = join(dir, `batch-${process.pid}-${batchCounter++}.sh`);
  writeFileSync(path, `${script}\n`);
  const r = await runProc('/bin/sh', [path], timeoutMs);
  if (r.code !== 0) throw new Error(`rdiff batch failed: ${r.stderr}`);
  const failed = new Map<number, number>();
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const m = /^failed (\d+) (\d+)$/.exec(line);
    if (m) failed.set(Number(m[1]), Number(m[2]));
  }
  return failed;
}
let batchCounter = 0;

/** rdiff's signature of a file with the options csync2 uses (or others). */
export async function rdiffSignature(basis: string, out: string, flags = ['-H', 'md4', '-R', 'rollsum', '-b', '2048', '-S', '0']): Promise<Buffer> {
  const r = await rdiff(['-f', ...flags, 'signature', basis, out]);
  if (r.code !== 0) throw new Error(`rdiff signature failed (${r.code}): ${r.stderr}`);
  return readFileSync(out);
}

export async function rdiffOk(args: string[]): Promise<void> {
  const r = await rdiff(['-f', ...args]);
  if (r.code !== 0) throw new Error(`rdiff ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

/** Our signature of a file, in-process. */
export function ourSignature(basis: string, opts?: SigOptions): Promise<Buffer> {
  return signatureOfFile(basis, opts);
}

/** Our delta of newPath against the signature bytes, written to out. */
export async function ourDelta(sig: Buffer, newPath: string, out: string): Promise<void> {
  const fd = openSync(out, 'w');
  try {
    await deltaFile(parseSignature(sig), newPath, fd);
  } finally {
    closeSync(fd);
  }
}

/** Our patch: basis + delta file -> out. */
export async function ourPatch(basis: string | null, delta: string, out: string): Promise<void> {
  const fd = openSync(out, 'w');
  try {
    await patchToFile(basis, createReadStream(delta, { highWaterMark: 256 * 1024 }), fd);
  } finally {
    closeSync(fd);
  }
}
