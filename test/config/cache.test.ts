/**
 * The parse cache (src/config/cache.ts): a second load of the same bytes replays
 * the first parse's builder calls and must give the same model, messages and
 * errors as a parse; anything that changed, or a cache not ours alone, is a miss.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lookupParse, storeParse } from '../../src/config/cache.js';
import { loadConfig, type LoadConfigOptions } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { CsyncError } from '../../src/util/errors.js';
import { OUR_ENTRY } from '../helpers/paths.js';
import { loadOurs, sandbox, writeConfig, type Sandbox } from './real-csync2.js';

let sb: Sandbox;
let dir: string;
let env: NodeJS.ProcessEnv;
before(() => {
  sb = sandbox();
  dir = join(sb.root, 'cache');
  env = { CSYNC2_TS_CACHE_DIR: dir };
});
after(() => sb.cleanup());

/** A config using most of the grammar, with an include (relative to the working directory). */
const CONFIG = [
  '# main file',
  'nossl * *;',
  'tempdir /tmp;',
  'lock-timeout 7;',
  'ignore uid;',
  'group one {',
  '  host h1 (h2) h3@eth0;',
  '  key csync2.key;',
  '  include /etc/one "/srv/with space";',
  '  exclude *.bak;',
  '  compare /etc/one/cmp;',
  '  auto younger;',
  '  backup-directory /var/backup;',
  '  backup-generations 3;',
  '  action { pattern /etc/one/*; exec "echo %%"; logfile /tmp/one.log; do-local; }',
  '}',
  'prefix p { on h1: /data/h1; on *: /data/any; }',
  'config more.cfg;',
  '',
].join('\n');
const MORE = 'group two { host h1 h4; key csync2.key; include %p%/x; }\n';

function opts(host = 'h1', extra: Partial<LoadConfigOptions> = {}): LoadConfigOptions {
  return { file: join(sb.sys, 'csync2.cfg'), systemDir: sb.sys, myhostname: host, groupList: null, peerList: null, cacheEnv: env, ...extra };
}

/** loadConfig() in the sandbox's working directory (includes are relative to it). */
async function load(o: LoadConfigOptions): Promise<{ cfg: Config | null; error: string }> {
  const old = process.cwd();
  process.chdir(sb.cwd);
  try {
    return { cfg: await loadConfig(o), error: '' };
  } catch (err) {
    if (err instanceof CsyncError) return { cfg: null, error: `${err.message} | ${err.detail ?? ''}` };
    throw err;
  } finally {
    process.chdir(old);
  }
}

/** Is there a current entry for the sandbox's config (looked up from its working directory)? */
function current(): boolean {
  const old = process.cwd();
  process.chdir(sb.cwd);
  try {
    return lookupParse(opts().file, readFileSync(opts().file), env) !== null;
  } finally {
    process.chdir(old);
  }
}

function entries(): string[] {
  try {
    return readdirSync(dir).filter((n) => n.startsWith('cfg-'));
  } catch {
    return [];
  }
}

function reset(): void {
  rmSync(dir, { recursive: true, force: true });
  writeConfig(sb, CONFIG);
  writeFileSync(join(sb.cwd, 'more.cfg'), MORE);
  writeFileSync(join(sb.sys, 'csync2.key'), 'abcdefghijklmnopqrstuvwxyz0123456789.ABCDEF_\n');
}

describe('config parse cache', () => {
  it('a second load is a hit and builds the same model as a parse', async () => {
    reset();
    const parsed = loadOurs(sb, 'h1').cfg; // no cache
    assert.ok(parsed);
    const first = await load(opts());
    assert.equal(entries().length, 1, 'the first load keeps its recording');
    assert.ok(current(), 'the entry is current');
    const second = await load(opts());
    assert.deepEqual(first.cfg, parsed);
    assert.deepEqual(second.cfg, parsed);
    // Another host name on the same recording: the builder decides again (prefix, groups).
    assert.deepEqual((await load(opts('h4'))).cfg, loadOurs(sb, 'h4').cfg);
    assert.deepEqual((await load(opts('h1', { groupList: 'two' }))).cfg, loadOurs(sb, 'h1', { groupList: 'two' }).cfg);
  });

  it('an included file that changed, or the main file, makes a miss', async () => {
    reset();
    await load(opts());
    writeFileSync(join(sb.cwd, 'more.cfg'), 'group two { host h1 h5; key csync2.key; include /y; }\n');
    assert.equal(current(), false);
    const changed = await load(opts());
    assert.deepEqual(changed.cfg, loadOurs(sb, 'h1').cfg);
    assert.ok(changed.cfg!.groups.some((g) => g.hosts.some((h) => h.name === 'h5')));
    unlinkSync(join(sb.cwd, 'more.cfg'));
    const gone = await load(opts());
    assert.equal(gone.cfg, null);
    assert.match(gone.error, /^Can't open included config file 'more.cfg'\./);
  });

  it('errors the builder finds come out of a replay as from a parse (a key file that went bad)', async () => {
    reset();
    assert.ok((await load(opts())).cfg);
    writeFileSync(join(sb.sys, 'csync2.key'), 'short\n');
    assert.ok(current(), 'the config bytes did not change: a hit');
    const replayed = await load(opts());
    const ours = loadOurs(sb, 'h1');
    assert.ok(ours.error instanceof CsyncError);
    assert.equal(replayed.error, `${ours.first} | ${ours.detail ?? ''}`);
  });

  it('a config with a syntax error is not kept', async () => {
    reset();
    writeConfig(sb, 'group g { host h1; key csync2.key include /x; }\n');
    const r = await load(opts());
    assert.match(r.error, /^Near line 1: syntax error/);
    assert.equal(entries().length, 0);
  });

  it('a cache directory or entry others could write is not used; a broken entry is a miss', async () => {
    reset();
    await load(opts());
    const [name] = entries();
    const path = join(dir, name!);
    chmodSync(path, 0o666);
    assert.equal(current(), false, 'world-writable entry');
    chmodSync(path, 0o600);
    chmodSync(dir, 0o777);
    assert.equal(current(), false, 'world-writable directory');
    chmodSync(dir, 0o700);
    writeFileSync(path, readFileSync(path, 'utf8').slice(0, 50));
    assert.equal(current(), false, 'truncated entry');
    assert.deepEqual((await load(opts())).cfg, loadOurs(sb, 'h1').cfg);
    assert.ok(current(), 'rewritten by the parse');
    assert.equal((await load(opts('h1', { cacheEnv: { CSYNC2_TS_CACHE_DIR: 'off' } }))).error, '');
    // Records that do not fit the builder (a method it lacks, a token of another shape): parsed instead.
    for (const spoil of [(c: unknown[][]) => { c[0]![0] = 'noSuchMethod'; }, (c: unknown[][]) => { c[0]![1] = [1, 2]; }]) {
      const entry = JSON.parse(readFileSync(path, 'utf8')) as { calls: unknown[][] };
      spoil(entry.calls);
      writeFileSync(path, JSON.stringify(entry), { mode: 0o600 });
      assert.deepEqual((await load(opts())).cfg, loadOurs(sb, 'h1').cfg);
    }
  });

  it('the CLI prints the same with and without a current entry (-vv); at most 64 entries are kept', () => {
    reset();
    writeFileSync(join(sb.sys, 'csync2.cfg'), 'group g { host h1 h2; key csync2.key; include %p%; }\nprefix p { on h1: /tmp/p1; }\n');
    const cli = (): { status: number | null; stderr: string } => {
      rmSync(join(sb.db, 'h1.db3'), { force: true });
      const r = spawnSync(process.execPath, [OUR_ENTRY, '-N', 'h1', '-D', sb.db, '-vv', '-M'], {
        cwd: sb.cwd, env: { ...process.env, CSYNC2_SYSTEM_DIR: sb.sys, CSYNC2_TS_CACHE_DIR: dir }, encoding: 'latin1',
      });
      return { status: r.status, stderr: r.stderr };
    };
    const miss = cli();
    assert.equal(entries().length, 1);
    const hit = cli();
    assert.match(miss.stderr, /^Config-File: /);
    assert.match(miss.stderr, /Prefix 'p' is set to '\/tmp\/p1'\./);
    assert.equal(hit.stderr, miss.stderr);
    assert.equal(hit.status, miss.status);
    // Many config files: the oldest entries go.
    for (let i = 0; i < 70; i++) storeParse(join(sb.root, `sys${i}`, 'csync2.cfg'), Buffer.from(`# ${i}\n`), [], [], env);
    assert.equal(entries().length, 64);
  });
});
