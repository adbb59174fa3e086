/**
 * Command-line behaviour compared with the real csync2: the help text and exit
 * code on every kind of misuse (spec cli.md §4), the csync2.lock stop switch,
 * `-k`, config names, database locations and the listing exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, statSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalEnv } from './env.js';

const CONFIG = `group g1 { host thishost peer1; key csync2.key; include %DATA%; }\n`;

function sameOutcome(env: LocalEnv, args: string[], label: string, opts: Parameters<LocalEnv['run']>[2] = {}): void {
  const [real, ours] = env.both(args, opts);
  // The real binary prints argv[0] as invoked (/usr/sbin/csync2); ours prints `csync2`.
  const norm = (s: string): string => s.replaceAll('/usr/sbin/csync2', 'csync2');
  assert.equal(norm(ours.stdout), norm(real.stdout), `${label}: stdout`);
  assert.equal(norm(ours.err1), norm(real.err1), `${label}: first stderr line`);
  assert.equal(ours.code, real.code, `${label}: exit code`);
}

test('misuse prints the exact help text on stdout and exits 1', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    const cases: string[][] = [
      [], ['-Z'], ['-cZ'], ['--foo'], ['-c', '--long'], ['-D'], ['-v', '-N'], ['-c', '-m', 'x'], ['-u', '-c'],
      ['-x', '-u'], ['-cx'], ['-L', 'file'], ['-M', 'x'], ['-H', 'x'], ['-R', 'x'], ['-S', 'onlyone'],
      ['-S', 'a', 'b', 'c'], ['-T', 'a', 'b', 'c', 'd'], ['-iiii'], ['-TTh'], ['-k'], ['-k', 'a', 'b'],
      ['-v', '-k', 'keyfile'], ['-r'], ['-vvv'], ['-i', 'x'], ['-d', '-B'],
      ['-:'], ['-c-'], ['-vN'], ['-c', 'x', '-p'], ['-cZ', '-x'], ['-x', '--', '-Z'], ['-W'],
    ];
    for (const args of cases) sameOutcome(env, args, `csync2 ${args.join(' ')}`, { noDefaults: true });
  } finally {
    env.cleanup();
  }
});

test('options after file names and -- work like getopt', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    writeFileSync(join(env.data, 'f'), 'x');
    sameOutcome(env, [join(env.data, 'f'), '-c'], 'file name before -c');
    sameOutcome(env, ['-M'], 'the permuted -c marked the file');
    sameOutcome(env, ['-M', '--'], '-M --');
    sameOutcome(env, ['-c', '--', '-notanoption'], '-c -- -notanoption');
    sameOutcome(env, ['-vvvL'], 'bundled -vvvL');
  } finally {
    env.cleanup();
  }
});

test('csync2.lock stops everything before option parsing', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    writeFileSync(join(env.sys, 'csync2.lock'), '');
    sameOutcome(env, ['-Z'], 'lock + bad option', { noDefaults: true });
    sameOutcome(env, ['-L'], 'lock + -L');
  } finally {
    env.cleanup();
  }
});

test('-k creates a 64-character key with mode 0600 and refuses to overwrite', () => {
  const env = new LocalEnv();
  try {
    for (const impl of ['real', 'ours'] as const) {
      const file = join(env.root, `key-${impl}`);
      const r = env.run(impl, ['-k', file], { noDefaults: true });
      assert.equal(r.code, 0, `${impl} -k exit`);
      const key = readFileSync(file, 'latin1');
      assert.match(key, /^[A-Za-z0-9._]{64}\n$/, `${impl} key format`);
      assert.equal(statSync(file).mode & 0o777, 0o600, `${impl} key mode`);
    }
    const file = join(env.root, 'key-real');
    sameOutcome(env, ['-k', file], '-k on an existing file', { noDefaults: true });
    sameOutcome(env, ['-k', join(env.root, 'no/such/dir/key')], '-k in a missing directory', { noDefaults: true });
  } finally {
    env.cleanup();
  }
});

test('config names, missing configs, hosts in no group and database locations', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    sameOutcome(env, ['-C', 'Bad_Name', '-L'], 'bad config name');
    sameOutcome(env, ['-C', 'other', '-L'], 'missing named config');
    env.config(CONFIG, 'csync2_other.cfg');
    sameOutcome(env, ['-C', 'other', '-L'], 'named config, empty db');
    assert.ok(existsSync(join(env.dbDir('ours'), 'thishost_other.db3')), 'named database file');
    sameOutcome(env, ['-N', 'stranger', '-L'], 'host not in any group', { noDefaults: false });
    sameOutcome(env, ['-L', '-N', 'does.not.exist'], 'upstream: host not mentioned', { noDefaults: true });
    sameOutcome(env, ['-N', '', '-L'], 'an empty -N names this host by gethostname()', { noDefaults: true });
    sameOutcome(env, ['-N', 'THISHOST', '-D', env.dbDir('real'), '-L'], '-N is lower-cased', { noDefaults: true });
    sameOutcome(env, ['-D', 'bogus://x', '-L'], 'membership is checked before the database', { noDefaults: true });
    sameOutcome(env, ['-N', 'thishost', '-D', 'bogus://x', '-L'], 'unknown database scheme', { noDefaults: true });
    sameOutcome(env, ['-N', 'thishost', '-D', join(env.root, 'missing-dir'), '-L'], 'database dir missing', { noDefaults: true });
    const dbFile = join(env.root, 'explicit.db3');
    for (const impl of ['real', 'ours'] as const) {
      const r = env.run(impl, ['-N', 'thishost', '-D', `sqlite3://${dbFile}-${impl}`, '-M'], { noDefaults: true });
      assert.equal(r.code, 2, `${impl}: empty explicit sqlite3:// database`);
      assert.ok(existsSync(`${dbFile}-${impl}`), `${impl}: created the named file`);
    }
    mkdirSync(join(env.root, 'dbdir-url'));
    for (const impl of ['real', 'ours'] as const) {
      const r = env.run(impl, ['-N', 'thishost', '-D', `sqlite:///${join(env.root, 'dbdir-url')}/`, '-H'], { noDefaults: true });
      assert.equal(r.code, 2, `${impl}: directory URL`);
    }
    assert.ok(existsSync(join(env.root, 'dbdir-url', 'thishost.db3')), 'a directory URL gets <host>.db3');
  } finally {
    env.cleanup();
  }
});

test('listings exit 2 when empty and 0 when they print', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    for (const mode of ['-L', '-M', '-H']) sameOutcome(env, [mode], `${mode} on an empty database`);
    sameOutcome(env, ['-S', 'thishost', 'peer1'], '-S on an empty database');
    writeFileSync(join(env.data, 'f'), 'x');
    sameOutcome(env, ['-cr', env.data], 'check');
    for (const mode of ['-L', '-M']) sameOutcome(env, [mode], `${mode} with rows`);
  } finally {
    env.cleanup();
  }
});
