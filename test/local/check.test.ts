/**
 * The local check (-c, -cr, -cI, -h then -c, -m, -f, -R, -G, listings) run by
 * the real csync2 and by ours on the same config and tree: stdout, the first
 * stderr line, the exit code and the rows of file, dirty and hint must match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync, symlinkSync, rmSync, chmodSync, chownSync, utimesSync, unlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { LocalEnv, OURS as OURS_BIN, type Result } from './env.js';

const TABLES = ['file', 'dirty', 'hint'] as const;

function expectSame(env: LocalEnv, args: string[], label: string, opts: Parameters<LocalEnv['run']>[2] = {}): [Result, Result] {
  const [real, ours] = env.both(args, opts);
  assert.equal(ours.stdout, real.stdout, `${label}: stdout`);
  assert.equal(ours.err1, real.err1, `${label}: first stderr line (real stderr: ${real.stderr})`);
  assert.equal(ours.code, real.code, `${label}: exit code (ours stderr: ${ours.stderr})`);
  for (const t of TABLES) assert.deepEqual(env.dump('ours', t), env.dump('real', t), `${label}: table ${t}`);
  return [real, ours];
}

/** A file name with every byte csync2 must encode, plus one that is not valid UTF-8. */
const ODD_NAMES: Buffer[] = [
  Buffer.from('with space.txt'),
  Buffer.from('per%cent:colon$dollar|pipe\\back"dq\'sq'),
  Buffer.from('tab\there'),
  Buffer.from('new\nline'),
  Buffer.from('umlaut-äöü-☺'),
  Buffer.from([0x6c, 0x61, 0x74, 0x31, 0x2d, 0xe4, 0xfc]), // latin1 bytes, invalid UTF-8
];

function buildTree(data: string): void {
  mkdirSync(join(data, 'a/b/c'), { recursive: true });
  mkdirSync(join(data, 'empty'));
  writeFileSync(join(data, 'top.txt'), 'top\n');
  writeFileSync(join(data, 'a/one.txt'), 'one\n');
  writeFileSync(join(data, 'a/b/two.txt'), 'two two\n');
  writeFileSync(join(data, 'a/b/c/three.txt'), 'three\n');
  writeFileSync(join(data, 'a/skip.tmp'), 'excluded\n');
  symlinkSync('top.txt', join(data, 'link-to-top'));
  symlinkSync('does/not/exist', join(data, 'dangling'));
  execFileSync('mkfifo', [join(data, 'fifo')]);
  // Devices and a unix socket (the suite runs as root, like csync2 on a cluster).
  execFileSync('mknod', [join(data, 'chardev'), 'c', '1', '3']);
  execFileSync('mknod', [join(data, 'blockdev'), 'b', '7', '200']);
  execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', join(data, 'sock')]);
  const odd = Buffer.concat([Buffer.from(data + '/')]);
  for (const n of ODD_NAMES) writeFileSync(Buffer.concat([odd, n]), 'odd\n');
  const t = new Date('2024-01-02T03:04:05Z');
  utimesSync(join(data, 'top.txt'), t, t);
  // Owners past 2^31 (csync2 prints uid and gid signed) and a time before 1970 with a fraction.
  writeFileSync(join(data, 'high-ids'), 'high\n');
  chownSync(join(data, 'high-ids'), 3_000_000_000, 4_294_967_294);
  writeFileSync(join(data, 'before-1970'), 'old\n');
  utimesSync(join(data, 'before-1970'), new Date(-86_400_500), new Date(-86_400_500));
}

const CONFIG = `
group g1 {
  host thishost peer1 (peer2);
  host peer3@peer3-if;
  key csync2.key;
  include %DATA%;
  exclude *.tmp;
}
`;

test('initial -cIr, edits, removals, type changes and -cr give the same rows as csync2', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    buildTree(env.data);
    expectSame(env, ['-cIr', env.data], 'init -cIr');
    expectSame(env, ['-M'], 'nothing dirty after -cIr');
    expectSame(env, ['-L'], 'file list after -cIr');

    // Same size, new content and mtime; other size; mtime only; mode only.
    writeFileSync(join(env.data, 'a/one.txt'), 'ONE\n');
    utimesSync(join(env.data, 'a/one.txt'), new Date('2020-01-01'), new Date('2020-01-01'));
    writeFileSync(join(env.data, 'a/b/two.txt'), 'two is longer now\n');
    utimesSync(join(env.data, 'top.txt'), new Date('2021-05-05'), new Date('2021-05-05'));
    chmodSync(join(env.data, 'a/b/c/three.txt'), 0o600);
    // Removals: a file and a whole directory; a new directory with files.
    unlinkSync(join(env.data, 'fifo'));
    rmSync(join(env.data, 'a/b/c'), { recursive: true });
    mkdirSync(join(env.data, 'newdir/sub'), { recursive: true });
    writeFileSync(join(env.data, 'newdir/sub/n.txt'), 'new\n');
    // symlink -> file and file -> symlink
    unlinkSync(join(env.data, 'link-to-top'));
    writeFileSync(join(env.data, 'link-to-top'), 'now a file\n');
    unlinkSync(join(env.data, 'a/one.txt'));
    symlinkSync('../top.txt', join(env.data, 'a/one.txt'));

    expectSame(env, ['-cr', env.data], 'check after edits');
    expectSame(env, ['-M'], 'dirty listing');
    expectSame(env, ['-L'], 'file listing');
    expectSame(env, ['-S', 'thishost', 'peer1'], '-S pair');
    expectSame(env, ['-S', 'thishost', 'nosuchpeer'], '-S empty pair');
    expectSame(env, ['-cr', env.data], 'second check changes nothing');
  } finally {
    env.cleanup();
  }
});

test('-h then -c consumes hints; -H lists them; -c with files leaves hints alone', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    buildTree(env.data);
    expectSame(env, ['-H'], 'no hints');
    expectSame(env, ['-h', join(env.data, 'a')], 'hint a');
    expectSame(env, ['-hr', join(env.data, 'a/b'), env.data + '/./top.txt'], 'hint recursive');
    expectSame(env, ['-H'], 'hints listed');
    expectSame(env, ['-c', join(env.data, 'top.txt')], '-c with a file keeps hints');
    expectSame(env, ['-H'], 'hints still there');
    expectSame(env, ['-c'], '-c consumes hints');
    expectSame(env, ['-H'], 'hints gone');
    expectSame(env, ['-M'], 'dirty after hints');
    // At -vv every statement is shown, the hint's removal too (its `recursive` once broke that line).
    expectSame(env, ['-hr', join(env.data, 'a')], 'hint again');
    const [, ours] = expectSame(env, ['-cvv'], '-cvv consumes hints');
    assert.match(ours.stderr, /^SQL: DELETE FROM hint .*\[".*",1\]$/m);
  } finally {
    env.cleanup();
  }
});

test('-m, -m -r, -f, -f -r, -F and -R match csync2', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    buildTree(env.data);
    expectSame(env, ['-cIr', env.data], 'init');
    expectSame(env, ['-m', join(env.data, 'top.txt')], '-m one file');
    expectSame(env, ['-mr', join(env.data, 'a')], '-m -r a dir');
    expectSame(env, ['-m', join(env.data, 'not-there')], '-m a file not in the table');
    expectSame(env, ['-f', join(env.data, 'top.txt')], '-f one file');
    expectSame(env, ['-fr', join(env.data, 'a')], '-f -r');
    expectSame(env, ['-M'], 'forced rows listed');
    expectSame(env, ['-F', '-m', join(env.data, 'newly-forced')], '-F -m');
    // Change the config so some rows go stale, then -R.
    env.config(CONFIG.replace('exclude *.tmp;', 'exclude *.tmp; exclude %DATA%/a;').replace('(peer2)', ''));
    expectSame(env, ['-R'], '-R removes stale rows');
    expectSame(env, ['-G', 'g1', '-R'], '-R with -G is fatal');
  } finally {
    env.cleanup();
  }
});

test('-G limits groups; -W writes the directories that hold group files', () => {
  const env = new LocalEnv();
  try {
    env.config(`
group g1 { host thishost peer1; key csync2.key; include %DATA%/a; }
group g2 { host thishost peer2; key csync2.key; include %DATA%/newdir; include %DATA%/top.txt; }
`);
    buildTree(env.data);
    mkdirSync(join(env.data, 'newdir/x'), { recursive: true });
    writeFileSync(join(env.data, 'newdir/x/f'), 'f\n');
    expectSame(env, ['-G', 'g2', '-cr', env.data], '-G g2 check');
    expectSame(env, ['-M'], 'only g2 files dirty');
    expectSame(env, ['-G', 'g1', '-M'], '-M with -G g1');
    expectSame(env, ['-G', 'nosuch', '-M'], '-G with an unknown group');

    const [realW, oursW] = [dumpFd3(env, 'real'), dumpFd3(env, 'ours')];
    assert.deepEqual(oursW, realW, '-W output');
    assert.ok(realW.length > 0, 'real csync2 wrote directories');
  } finally {
    env.cleanup();
  }
});

/** What -W 3 wrote, split at the NUL terminators. */
function dumpFd3(env: LocalEnv, impl: 'real' | 'ours'): string[] {
  const out = execFileSync('bash', ['-c', `"$0" -N thishost -D "$1" -W 3 -cr "$2" 3>&1 >/dev/null 2>/dev/null`,
    impl === 'real' ? '/usr/sbin/csync2' : OURS_BIN, env.dbDir(impl), env.data],
  { env: { ...process.env, CSYNC2_SYSTEM_DIR: env.sys }, encoding: 'latin1' });
  return out.split('\0');
}

test('-o lists the files of the groups in compare mode, twice below a prefix', () => {
  const env = new LocalEnv();
  try {
    env.config(`
group g1 { host thishost peer1; key csync2.key; include %pd%; exclude %pd%/a/b; compare *.txt; }
prefix pd { on thishost: %DATA%; on *: /elsewhere; }
`);
    buildTree(env.data);
    expectSame(env, ['-o', '-r', env.data], '-o on the prefix path');
    expectSame(env, ['-or', join(env.data, 'a')], '-o below the prefix');
    expectSame(env, ['-P', 'peer1', '-or', env.data], '-o -P peer1');
    expectSame(env, ['-P', 'other', '-or', env.data], '-o -P with no such peer');
  } finally {
    env.cleanup();
  }
});

test('prefixes: rows are stored prefix-encoded; checks by real path and by %name%', () => {
  const env = new LocalEnv();
  try {
    env.config(`
group g1 { host thishost peer1; key csync2.key; include %pd%; exclude %pd%/a/b; }
prefix pd { on other: /x; on thishost: %DATA%; }
`);
    buildTree(env.data);
    expectSame(env, ['-cr', env.data], 'check the prefix path');
    expectSame(env, ['-L'], 'prefix-encoded file rows');
    expectSame(env, ['-M'], 'prefix-encoded dirty rows');
    writeFileSync(join(env.data, 'a/one.txt'), 'changed\n');
    expectSame(env, ['-cr', join(env.data, 'a')], 'check below the prefix');
    expectSame(env, ['-c', join(env.root, 'outside')], 'a path outside every group warns');
    expectSame(env, ['-m', join(env.data, 'a/one.txt')], '-m below a prefix');
    expectSame(env, ['-M'], 'dirty after -m');
  } finally {
    env.cleanup();
  }
});

test('-cvvr: with files new since the last check, the debug lines are csync2\'s (no Match line for a row the walk just made)', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    buildTree(env.data);
    expectSame(env, ['-cIr', env.data], 'init -cIr');
    writeFileSync(join(env.data, 'a/new.txt'), 'new\n');
    writeFileSync(join(env.data, 'zz-new.txt'), 'new too\n');
    symlinkSync('top.txt', join(env.data, 'b-new-link'));
    unlinkSync(join(env.data, 'a/b/two.txt'));
    const real = expectSameDebug(env, ['-cvvr', env.data], '-cvvr after new files');
    assert.match(real, /New file: .*zz-new\.txt/);
  } finally {
    env.cleanup();
  }
});

test('-cvv below a prefix: the same debug lines as csync2 (its second walk of a prefix path, rows in name order)', () => {
  const env = new LocalEnv();
  try {
    env.config(`
group g1 { host thishost peer1; key csync2.key; include %pd%; }
prefix pd { on other: /x; on thishost: %DATA%; }
`);
    buildTree(env.data);
    expectSame(env, ['-cIr', env.data], 'init -cIr');
    mkdirSync(join(env.data, 'a/new'));
    writeFileSync(join(env.data, 'a/new/n.txt'), 'new\n');
    unlinkSync(join(env.data, 'top.txt'));
    const real = expectSameDebug(env, ['-cvvr', env.data], '-cvvr of the prefix path');
    assert.match(real, /^Prefix matched: %pd% <- /m);
    assert.match(real, /^Running recursive check for %pd% \.\.\.$/m);
    writeFileSync(join(env.data, 'a/one.txt'), 'changed again\n');
    expectSame(env, ['-h', env.data], 'hint the prefix path');
    expectSame(env, ['-hr', '%pd%'], 'hint %pd%');
    expectSameDebug(env, ['-cvv'], '-cvv consumes both hints');
  } finally {
    env.cleanup();
  }
});

/** expectSame(), and every stderr line equal as -vv shows it (LocalEnv.debugLines). Returns the real csync2's stderr. */
function expectSameDebug(env: LocalEnv, args: string[], label: string): string {
  const [real, ours] = expectSame(env, args, label);
  assert.deepEqual(env.debugLines(ours, 'ours'), env.debugLines(real, 'real'), label);
  return real.stderr;
}
