/**
 * One database, both programs: a database written by the real csync2 is used by
 * ours without spurious dirty rows and the reverse; the schema is csync2's byte
 * for byte; -B, -A, lock-timeout and the timestamp options behave like csync2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync, symlinkSync, readFileSync, existsSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SCHEMA } from '../../src/db/store.js';
import { LocalEnv, OURS, type Impl } from './env.js';

const CONFIG = `group g1 { host thishost peer1 peer2; key csync2.key; include %DATA%; }\n`;

function tree(data: string): void {
  mkdirSync(join(data, 'd/e'), { recursive: true });
  writeFileSync(join(data, 'd/e/f.txt'), 'f\n');
  writeFileSync(join(data, 'g h.txt'), 'g\n');
  writeFileSync(Buffer.from(`${data}/bytes-\xe9\xff`, 'latin1'), 'latin1 name\n');
  symlinkSync('d/e/f.txt', join(data, 'ln'));
}

/** Run one implementation on the OTHER implementation's database directory. */
function runOn(env: LocalEnv, impl: Impl, dbOf: Impl, args: string[]) {
  return env.run(impl, ['-N', 'thishost', '-D', env.dbDir(dbOf), ...args], { noDefaults: true });
}

for (const [writer, reader] of [['real', 'ours'], ['ours', 'real']] as const) {
  test(`a database written by ${writer} csync2 is used by ${reader} without spurious dirty rows`, () => {
    const env = new LocalEnv();
    try {
      env.config(CONFIG);
      tree(env.data);
      assert.equal(runOn(env, writer, writer, ['-cIr', env.data]).code, 0);
      const before = env.dump(writer, 'file');
      const r = runOn(env, reader, writer, ['-cr', env.data]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(runOn(env, reader, writer, ['-M']).code, 2, `${reader} sees no dirty rows`);
      assert.deepEqual(env.dump(writer, 'file'), before, 'file rows unchanged');
      // And a change is picked up by both, identically.
      writeFileSync(join(env.data, 'g h.txt'), 'changed\n');
      assert.equal(runOn(env, reader, writer, ['-cr', env.data]).code, 0);
      const dirty = runOn(env, writer, writer, ['-M']);
      assert.equal(dirty.code, 0);
      assert.equal(dirty.stdout.trim().split('\n').length, 2, 'one row per peer for the changed file');
    } finally {
      env.cleanup();
    }
  });
}

test('the schema in sqlite_master is csync2\'s, byte for byte', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    for (const impl of ['real', 'ours'] as const) assert.equal(env.run(impl, ['-M']).code, 2);
    const schema = (impl: Impl): string => spawnSync('sqlite3', [join(env.dbDir(impl), 'thishost.db3'),
      'SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name'], { encoding: 'latin1' }).stdout;
    assert.equal(schema('ours'), schema('real'));
    assert.match(schema('ours'), /CREATE TABLE file \(\tfilename, checktxt,\tUNIQUE \( filename \) ON CONFLICT REPLACE\)/);
  } finally {
    env.cleanup();
  }
});

test('-B and -A give the same rows; lock-timeout ends with csync2\'s busy message', async () => {
  const env = new LocalEnv();
  try {
    env.config(`lock-timeout 1;\n${CONFIG}`);
    tree(env.data);
    for (const impl of ['real', 'ours'] as const) {
      assert.equal(env.run(impl, ['-B', '-A', '-cr', env.data]).code, 0);
    }
    assert.deepEqual(env.dump('ours', 'dirty'), env.dump('real', 'dirty'));
    assert.deepEqual(env.dump('ours', 'file'), env.dump('real', 'file'));

    // Hold an exclusive lock on our database while a check wants to write.
    const db = join(env.dbDir('ours'), 'thishost.db3');
    const holder = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'ignore'] });
    // The lock is held once sqlite3 answers the SELECT after BEGIN EXCLUSIVE (no fixed sleep: CI may be slow).
    const locked = new Promise<void>((resolve) => holder.stdout!.on('data', (d: Buffer) => { if (d.includes('locked')) resolve(); }));
    holder.stdin.write("BEGIN EXCLUSIVE;\nSELECT 'locked';\n");
    await locked;
    writeFileSync(join(env.data, 'g h.txt'), 'changed again\n');
    const started = Date.now();
    const r = env.run('ours', ['-cr', env.data]);
    holder.kill('SIGKILL');
    assert.equal(r.code, 1);
    assert.equal(r.err1, 'Database backend is exceedingly busy => Terminating (requesting retry).');
    assert.ok(Date.now() - started < 12_000, 'gave up after lock-timeout + pid % 7 seconds');
  } finally {
    env.cleanup();
  }
});

test('a run that finds no tables while another connection is creating them waits and uses them (no "table file already exists")', async () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    tree(env.data);
    // Another run (cron beside a receiving daemon) has the new database's write lock and creates the schema.
    const db = join(env.dbDir('ours'), 'thishost.db3');
    const holder = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'ignore'] });
    const locked = new Promise<void>((resolve) => holder.stdout!.on('data', (d: Buffer) => { if (d.includes('locked')) resolve(); }));
    holder.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n");
    await locked;
    const ours = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(OURS, ['-N', 'thishost', '-D', env.dbDir('ours'), '-cr', env.data],
        { env: { ...process.env, CSYNC2_SYSTEM_DIR: env.sys }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString('latin1'); });
      p.on('close', (code) => resolve({ code, stderr }));
    });
    await new Promise((r) => setTimeout(r, 1500)); // ours has found no table by now and waits for the lock
    holder.stdin.end(`${SCHEMA.map(([, sql]) => sql + ';').join('\n')}\nCOMMIT;\n`);
    const r = await ours;
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Database Error/);
    assert.ok(env.dump('ours', 'file').length > 0, 'the check wrote its rows into the tables the other run made');
  } finally {
    env.cleanup();
  }
});

test('-t prints TIMESTAMP/TOTALTIME lines, -s appends them with the pid to a file', () => {
  const env = new LocalEnv();
  try {
    env.config(CONFIG);
    for (const impl of ['real', 'ours'] as const) {
      const stamp = join(env.root, `stamps-${impl}`);
      const r = env.run(impl, ['-t', '-s', stamp, '-M']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^TIMESTAMP: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(GMT[+-]\d{4}\)\n/, `${impl} -t`);
      assert.match(r.stderr, /TOTALTIME: 0:00:0\d\n$/, `${impl} TOTALTIME`);
      const lines = readFileSync(stamp, 'latin1').trim().split('\n');
      assert.match(lines[0]!, /^<\d+> TIMESTAMP: /, `${impl} -s first line`);
      assert.match(lines[lines.length - 1]!, /^<\d+> TOTALTIME: 0:00:0\d$/, `${impl} -s last line`);
    }
    for (const impl of ['real', 'ours'] as const) {
      const r = env.run(impl, ['-s', join(env.root, 'no/such/dir/file'), '-M']);
      assert.equal(r.code, 1);
      assert.match(r.err1, /^Can't open timestanp file `.*no\/such\/dir\/file': No such file or directory$/);
    }
    const [real, ours] = env.both(['-W', '77', '-cr', env.data]);
    assert.equal(ours.err1, real.err1);
    assert.equal(ours.code, real.code);
    assert.ok(!existsSync(join(env.root, 'no')));
  } finally {
    env.cleanup();
  }
});
