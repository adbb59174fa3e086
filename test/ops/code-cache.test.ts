/**
 * The start-up loader's code cache (src/launcher/start.ts): a run that finds none leaves one in the
 * cache directory, later runs use it unchanged and print what a run without it prints; a file that
 * is damaged, made for another build or writable by others is not used (V8 would abort on damaged
 * bytes) but replaced, and the run still succeeds; a cache directory without room for it holds no
 * half-written file afterwards; without the checksum flag bin/csync2 passes, no cache is read or made.
 * The full directory is a small tmpfs: needs root (mount), as `make test` runs on CI. Runs `node [flags] dist/csync2.cjs` as bin/csync2 does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OUR_ENTRY } from '../helpers/paths.js';
import { sandbox, writeConfig, type Sandbox } from '../config/real-csync2.js';

const SUM = '--verify-snapshot-checksum';

let sb: Sandbox;
let data: string;
before(() => {
  sb = sandbox();
  data = join(sb.root, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'a'), 'a\n');
  writeConfig(sb, `group g { host h1 h2; key csync2.key; include ${data}; }\n`);
});
after(() => sb.cleanup());

interface Run { status: number | null; stdout: string; stderr: string }

/** `node FLAGS dist/csync2.cjs -N h1 -D db ARGS` with the cache directory `dir` (a fresh database each time). */
function run(dir: string, args: string[], flags = [SUM], cfg = 'csync2.cfg'): Run {
  rmSync(join(sb.db, 'h1.db3'), { force: true });
  const r = spawnSync(process.execPath, [...flags, OUR_ENTRY, '-N', 'h1', '-D', sb.db, ...(cfg === 'csync2.cfg' ? [] : ['-C', cfg]), ...args], {
    cwd: sb.cwd, env: { ...process.env, CSYNC2_SYSTEM_DIR: sb.sys, CSYNC2_TS_CACHE_DIR: dir }, encoding: 'latin1', timeout: 60000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function codeFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('code-')).map((n) => join(dir, n));
}

/** A fresh private cache directory. */
function freshDir(name: string): string {
  const dir = join(sb.root, name);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** The file's identity: a file replaced by a rename gets a new inode. */
const ident = (path: string): string => {
  const st = statSync(path);
  return `${st.ino}:${st.mtimeMs}:${st.size}`;
};

describe('the code cache', () => {
  it('a first run makes it, later runs use it as it is and print the same as a run without', () => {
    const dir = freshDir('first');
    const plain = run('off', ['-vv', '-cr', data]);
    assert.equal(plain.status, 0, plain.stderr);
    const miss = run(dir, ['-vv', '-cr', data]);
    const [file, ...more] = codeFiles(dir);
    assert.ok(file, 'a cache file was written');
    assert.deepEqual(more, []);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const bytes = readFileSync(file);
    assert.equal(bytes.subarray(0, 23).toString('latin1'), 'csync2-ts code cache 1\n');
    assert.ok(bytes.includes(Buffer.from(JSON.stringify(process.version))), 'the header names the node version');
    const before = ident(file);
    const hit = run(dir, ['-vv', '-cr', data]);
    assert.equal(ident(file), before, 'a current cache is not written again');
    for (const r of [miss, hit]) {
      assert.equal(r.status, plain.status);
      assert.equal(r.stdout, plain.stdout);
      assert.equal(r.stderr, plain.stderr);
    }
    // Other node flags (bin/csync2 picks them per mode): a file of their own.
    const other = run(dir, ['-cr', data], [SUM, '--max-semi-space-size=2']);
    assert.equal(other.status, 0, other.stderr);
    assert.equal(codeFiles(dir).length, 2);
    assert.equal(ident(file), before);
  });

  it('the parser (chevrotain, imported late) runs from the cache: a broken config is reported the same', () => {
    const dir = freshDir('parser');
    writeFileSync(join(sb.sys, 'csync2_bad.cfg'), `group g {\n  host h1 h2;\n  key csync2.key;\n  include ${data}\n  exclude x;\n}\n`);
    const plain = run('off', ['-cr', data], [SUM], 'bad');
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /csync2_bad\.cfg:5:/, plain.stderr);
    run(dir, ['-cr', data]); // the cache, made by a run that did not parse (the config cache is empty)
    assert.equal(codeFiles(dir).length, 1);
    const before = ident(codeFiles(dir)[0]!);
    const cached = run(dir, ['-cr', data], [SUM], 'bad');
    assert.equal(ident(codeFiles(dir)[0]!), before, 'the cache was used');
    assert.equal(cached.status, plain.status);
    assert.equal(cached.stderr, plain.stderr);
  });

  it('a damaged file, one for another build, or one others may write is replaced and the run succeeds', () => {
    const dir = freshDir('spoiled');
    const plain = run('off', ['-vv', '-cr', data]);
    run(dir, ['-cr', data]);
    const file = codeFiles(dir)[0]!;
    const good = readFileSync(file);
    const headerEnd = good.indexOf(10, 23) + 1;
    const spoils: [string, (b: Buffer) => void][] = [
      ['damaged V8 data', (b) => { for (let i = headerEnd + 64; i < b.length; i += 997) b[i] ^= 0x5a; }],
      // The build's size in the header, its first digit changed.
      ['another build', (b) => {
        const at = b.indexOf('"size":') + 7;
        b[at] = b[at] === 0x39 ? 0x31 : 0x39;
      }],
    ];
    for (const [what, spoil] of spoils) {
      const bytes = Buffer.from(good);
      spoil(bytes);
      assert.ok(!bytes.equals(good));
      writeFileSync(file, bytes, { mode: 0o600 });
      const before = ident(file);
      const r = run(dir, ['-vv', '-cr', data]);
      assert.equal(r.status, plain.status, `${what}: ${r.stderr}`);
      assert.equal(r.stderr, plain.stderr, what);
      assert.notEqual(ident(file), before, `${what}: replaced`);
      assert.ok(readFileSync(file).subarray(0, headerEnd).equals(good.subarray(0, headerEnd)), `${what}: a current header again`);
    }
    // Writable by others: not read (whatever it holds), replaced by a private file.
    chmodSync(file, 0o666);
    const before = ident(file);
    const r = run(dir, ['-vv', '-cr', data]);
    assert.equal(r.stderr, plain.stderr);
    assert.notEqual(ident(file), before);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('a cache directory without room: the run succeeds and leaves no temp file', () => {
    const dir = freshDir('full');
    // Room for the config cache's entry (a few KiB), not for the code cache (~200 KiB).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
    try {
      const plain = run('off', ['-vv', '-cr', data]);
      for (let i = 0; i < 2; i++) {
        const r = run(dir, ['-vv', '-cr', data]);
        assert.equal(r.status, plain.status, r.stderr);
        assert.equal(r.stderr, plain.stderr);
        const names = readdirSync(dir);
        assert.deepEqual(names.filter((n) => n.endsWith('.tmp') || n.startsWith('code-')), [], names.join(' '));
        assert.ok(names.some((n) => n.startsWith('cfg-')), 'the small config entry fits');
      }
    } finally {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
  });

  it('at most 12 cache files are kept, the least recently written go; temp files left an hour ago go too', () => {
    const dir = freshDir('many');
    const old = Date.now() / 1000 - 7200;
    for (let i = 0; i < 14; i++) {
      writeFileSync(join(dir, `code-old${i}.bin`), 'x', { mode: 0o600 });
      utimesSync(join(dir, `code-old${i}.bin`), old + i, old + i);
    }
    writeFileSync(join(dir, 'code-left.bin.1.tmp'), 'x', { mode: 0o600 });
    utimesSync(join(dir, 'code-left.bin.1.tmp'), old, old);
    writeFileSync(join(dir, 'code-busy.bin.2.tmp'), 'x', { mode: 0o600 });
    const r = run(dir, ['-cr', data]);
    assert.equal(r.status, 0, r.stderr);
    const names = readdirSync(dir).filter((n) => n.startsWith('code-')).sort();
    const kept = names.filter((n) => n.endsWith('.bin'));
    assert.equal(kept.length, 12, names.join(' '));
    assert.ok(kept.some((n) => !n.startsWith('code-old')), 'the new file is kept');
    assert.ok(!kept.includes('code-old0.bin') && !kept.includes('code-old2.bin') && kept.includes('code-old3.bin'), 'the oldest three went');
    assert.deepEqual(names.filter((n) => n.endsWith('.tmp')), ['code-busy.bin.2.tmp'], 'a fresh temp file stays, an old one goes');
  });

  it('without the checksum flag no cache is read or made', () => {
    const dir = freshDir('noflag');
    const r = run(dir, ['-cr', data], []);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(codeFiles(dir), []);
    assert.ok(readdirSync(dir).some((n) => n.startsWith('cfg-')), 'the config cache still works');
  });
});
