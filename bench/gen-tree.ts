/**
 * Deterministic benchmark trees: the same seed gives the same names, sizes, contents and mtimes.
 *
 *   node dist/bench/gen-tree.js gen DIR (tree10k|tree50k|flat10k|dirs3k|odd5k|FILES) [--seed N]
 *   node dist/bench/gen-tree.js touch DIR [--percent P] [--seed N]
 *
 * Shape: ~FILES/30 directories forming a random tree no deeper than 5 levels, each directory
 * holding 10-50 files; sizes 0-64 KiB, mostly small (60% under 1 KiB). Other shapes: flat10k
 * (one directory of 10k files), dirs3k (3k directories up to 40 deep, 0-2 files each), odd5k
 * (tree10k's shape with names in many scripts and with quotes, %, #, brackets, backslashes). Contents are slices of one
 * seeded random pool with a per-file header, so every file differs while generation stays I/O-bound.
 * `touch` rewrites P% of the files (chosen by the seed from the sorted file list) with new content
 * and a new mtime, so applying it to two identical copies keeps them identical.
 */
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface TreeSpec {
  files: number;
  seed: number;
  /** Files per directory, drawn between the two (default 10-50). */
  perDir?: [number, number];
  /** Deepest directory level (default 5). */
  maxDepth?: number;
  /** 'odd': names in many scripts with spaces, quotes, %, #, brackets and the like. */
  names?: 'plain' | 'odd';
}

/** tree10k/tree50k are the issues' trees; the others are shapes that stress other paths. */
export const TREES: Record<string, TreeSpec> = {
  tree10k: { files: 10_000, seed: 10 },
  tree50k: { files: 50_000, seed: 50 },
  flat10k: { files: 10_000, seed: 11, perDir: [10_000, 10_000] },
  dirs3k: { files: 3_000, seed: 12, perDir: [0, 2], maxDepth: 40 },
  odd5k: { files: 5_000, seed: 13, names: 'odd' },
};

const MAX_DEPTH = 5;
const FILES_PER_DIR = [10, 50] as const;
/** Pieces of odd names: each is legal in a POSIX name and exercises csync2's URL encoding or SQL quoting. */
const ODD_PARTS = ['straße', 'файл', '文件', 'ファイル', 'ملف', 'a b', "it's", '"q"', '100%', '%20', '#1', '[x]', '{y}',
  '(z)', 'a&b', 'a+b', 'a=b', 'a;b', 'a:b', 'a,b', 'a@b', 'tab\t', '~t', '$v', '!e', '*s', '?q', 'é', 'ñ', '😀'];
const POOL_SIZE = 1 << 20;
const MTIME_BASE = 1_600_000_000;
const TOUCH_MTIME_BASE = 1_700_000_000;
const EXTENSIONS = ['txt', 'conf', 'html', 'js', 'json', 'log', 'dat', 'bin', 'md', 'xml'];

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randInt(rand: () => number, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

function makePool(seed: number): Buffer {
  const rand = prng(seed ^ 0x5eed);
  const pool = Buffer.alloc(POOL_SIZE);
  for (let i = 0; i < POOL_SIZE; i += 4) pool.writeUInt32LE(Math.floor(rand() * 4294967296), i);
  return pool;
}

/** 60% < 1 KiB, 28% 1-8 KiB, 9% 8-32 KiB, 3% 32-64 KiB (2% of all files empty). */
function fileSize(rand: () => number): number {
  const r = rand();
  if (r < 0.02) return 0;
  if (r < 0.60) return randInt(rand, 1, 1023);
  if (r < 0.88) return randInt(rand, 1024, 8191);
  if (r < 0.97) return randInt(rand, 8192, 32767);
  return randInt(rand, 32768, 65536);
}

function content(pool: Buffer, rand: () => number, label: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  const header = Buffer.from(`${label}\n`);
  header.copy(out, 0, 0, Math.min(header.length, size));
  let pos = Math.min(header.length, size);
  while (pos < size) {
    const start = randInt(rand, 0, POOL_SIZE - 1);
    pos += pool.copy(out, pos, start, Math.min(POOL_SIZE, start + (size - pos)));
  }
  return out;
}

function oddPart(rand: () => number): string {
  return ODD_PARTS[randInt(rand, 0, ODD_PARTS.length - 1)]!;
}

export interface GenerateResult {
  files: number;
  dirs: number;
  bytes: number;
}

export function generateTree(root: string, spec: TreeSpec): GenerateResult {
  const rand = prng(spec.seed);
  const pool = makePool(spec.seed);
  const [perDirMin, perDirMax] = spec.perDir ?? FILES_PER_DIR;
  const maxDepth = spec.maxDepth ?? MAX_DEPTH;
  const dirCount = Math.max(1, Math.ceil(spec.files / Math.max(0.5, (perDirMin + perDirMax) / 2)));

  // Directory tree: each new directory hangs below a random earlier one that is not too deep.
  const dirs: { path: string; depth: number; children: number }[] = [{ path: root, depth: 0, children: 0 }];
  mkdirSync(root, { recursive: true });
  while (dirs.length < dirCount) {
    const parent = dirs[randInt(rand, 0, dirs.length - 1)]!;
    if (parent.depth >= maxDepth) continue;
    const base = `dir${String(parent.children++).padStart(2, '0')}`;
    const path = join(parent.path, spec.names === 'odd' ? `${oddPart(rand)} ${base}` : base);
    mkdirSync(path);
    dirs.push({ path, depth: parent.depth + 1, children: 0 });
  }

  let made = 0;
  let bytes = 0;
  const perDir = new Array<number>(dirs.length).fill(0);
  while (made < spec.files) {
    for (let d = 0; d < dirs.length && made < spec.files; d++) {
      const count = Math.min(randInt(rand, perDirMin, perDirMax), spec.files - made);
      for (let i = 0; i < count; i++) {
        const n = perDir[d]!++;
        const ext = EXTENSIONS[randInt(rand, 0, EXTENSIONS.length - 1)]!;
        // One name in a hundred has a space: csync2 URL-encodes those.
        const stem = spec.names === 'odd' ? `${oddPart(rand)}-${oddPart(rand)} ` : rand() < 0.01 ? 'file ' : 'file-';
        const name = `${stem}${String(n).padStart(3, '0')}.${ext}`;
        const path = join(dirs[d]!.path, name);
        const size = fileSize(rand);
        writeFileSync(path, content(pool, rand, path.slice(root.length), size));
        const mtime = MTIME_BASE + randInt(rand, 0, 10_000_000);
        utimesSync(path, mtime, mtime);
        made++;
        bytes += size;
      }
    }
  }
  return { files: made, dirs: dirs.length, bytes };
}

/** Regular files below root, sorted by path (byte order of the UTF-8 names). */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) out.push(path.slice(root.length));
    }
  };
  walk(root);
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Rewrites `percent`% of the files (new content and mtime); returns how many. */
export function touchTree(root: string, percent: number, seed = 1): number {
  const files = listFiles(root);
  const count = Math.min(files.length, Math.round((files.length * percent) / 100));
  const rand = prng(seed * 7919 + 13);
  const pool = makePool(seed + 1000);
  // Partial Fisher-Yates: the first `count` entries become a random sample without repeats.
  const order = files.map((_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = randInt(rand, i, order.length - 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let i = 0; i < count; i++) {
    const rel = files[order[i]!]!;
    const path = root + rel;
    writeFileSync(path, content(pool, rand, `touched ${rel}`, fileSize(rand)));
    const mtime = TOUCH_MTIME_BASE + i;
    utimesSync(path, mtime, mtime);
  }
  return count;
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value)) throw new Error(`${name} needs a number`);
  return value;
}

function main(args: string[]): number {
  const [command, dir] = args;
  if (command === 'gen' && dir && args[2]) {
    const preset = TREES[args[2]];
    const files = preset ? preset.files : Number(args[2]);
    if (!Number.isInteger(files) || files <= 0) throw new Error(`unknown tree ${args[2]}`);
    const spec = { ...preset, files, seed: option(args, '--seed', preset?.seed ?? files) };
    const started = Date.now();
    const r = generateTree(dir, spec);
    process.stdout.write(`${dir}: ${r.files} files, ${r.dirs} dirs, ${(r.bytes / 1048576).toFixed(1)} MiB `
      + `(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    return 0;
  }
  if (command === 'touch' && dir) {
    const n = touchTree(dir, option(args, '--percent', 1), option(args, '--seed', 1));
    process.stdout.write(`${dir}: touched ${n} files\n`);
    return 0;
  }
  process.stderr.write(`usage: gen-tree.js gen DIR (${Object.keys(TREES).join('|')}|FILES) [--seed N]\n`
    + '       gen-tree.js touch DIR [--percent P] [--seed N]\n');
  return 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2));
