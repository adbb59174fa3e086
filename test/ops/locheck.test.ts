/**
 * docs/csync2-locheck.sh against a clean and a dirty host, with our csync2 and with the real one (the
 * script must work with both). A host here is a CSYNC2_SYSTEM_DIR with a config whose group names this
 * host (`-N alpha` through CSYNC2_OPTS) and two peers, and a `database` statement: the local modes
 * (-cr, -M) need no network.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OUR_CSYNC2, REAL_CSYNC2, type Impl } from '../helpers/paths.js';
import { randomKey } from '../helpers/cluster.js';
import { LOCHECK } from './files.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[], env: NodeJS.ProcessEnv, input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }, 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => { /* the child may exit without reading its input */ });
    child.stdin.end(input);
  });
}

/** One host: sysdir with config and key, database dir, data dir; `csync2` runs as alpha. */
class Host {
  readonly root = mkdtempSync(join(tmpdir(), 'csync2-ts-locheck-'));
  readonly etc = join(this.root, 'etc');
  readonly data = join(this.root, 'data');

  constructor(readonly impl: Impl, readonly name = 'alpha') {
    roots.push(this.root);
    for (const d of [this.etc, this.data, join(this.root, 'db')]) mkdirSync(d, { recursive: true });
    writeFileSync(join(this.etc, 'csync2.key'), randomKey(), { mode: 0o600 });
    writeFileSync(join(this.etc, 'csync2.cfg'), [
      'group web',
      '{',
      '\thost alpha beta (gamma);',
      '\tkey csync2.key;',
      `\tinclude ${this.data};`,
      '\texclude *.tmp;',
      '}',
      `database ${join(this.root, 'db')};`,
      '',
    ].join('\n'));
  }

  get csync2(): string {
    return this.impl === 'real' ? REAL_CSYNC2 : OUR_CSYNC2;
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      // bin/csync2 runs `node` from the PATH.
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      CSYNC2_SYSTEM_DIR: this.etc,
      CSYNC2: this.csync2,
      CSYNC2_OPTS: `-N ${this.name}`,
      ...extra,
    };
  }

  write(rel: string, text = `${rel}\n`): void {
    mkdirSync(dirname(join(this.data, rel)), { recursive: true });
    writeFileSync(join(this.data, rel), text);
  }

  async csync2Run(...args: string[]): Promise<Run> {
    return run([this.csync2, '-N', this.name, ...args], this.env());
  }

  /** The files are known and nothing is pending: an init run fills the file table without dirty rows. */
  async makeClean(): Promise<void> {
    const r = await this.csync2Run('-cIr', '/');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await this.csync2Run('-M')).code, 2, 'no dirty rows after the init run');
  }

  locheck(args: string[] = [], extra: Record<string, string> = {}): Promise<Run> {
    // stdin is a pipe, not a terminal: the script must not ask.
    return run(['/bin/sh', LOCHECK, ...args], this.env(extra));
  }
}

/** The file lines of the report: `name -> peers [(forced)]`. */
function reportedFiles(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith('!!   ')).map((l) => l.slice(5).replace(/ {2,}->/, ' ->').trimEnd());
}

// Every test has its own host: run them side by side (each csync2-ts start costs ~0.3 s).
/**
 * On a terminal the script asks. `script` gives it a pseudo-terminal; SHELL is a stand-in that only
 * says it was started as a login shell.
 */
async function onTerminal(host: Host, answer: string): Promise<Run> {
  const fakeShell = join(host.root, 'fake-shell');
  writeFileSync(fakeShell, '#!/bin/sh\necho "fake login shell $*"\n', { mode: 0o755 });
  // `script` itself runs the command with $SHELL: set the stand-in only for the script.
  return run(['script', '-qec', `SHELL=${fakeShell} /bin/sh ${LOCHECK}`, '/dev/null'], host.env({ SHELL: '/bin/sh' }),
    `${answer}\n`);
}

describe('csync2-locheck.sh', { concurrency: true }, () => {
  for (const impl of ['ours', 'real'] as const) {
    test(`${impl}: a clean host: no output at all, exit 0`, async () => {
      const host = new Host(impl);
      host.write('index.html');
      host.write('sub/page.html');
      await host.makeClean();
      const r = await host.locheck();
      assert.deepEqual(r, { code: 0, stdout: '', stderr: '' });
    });

    test(`${impl}: a dirty host: every unsynced file once with its peers, exit 1, no prompt without a terminal`, async () => {
      const host = new Host(impl);
      host.write('index.html');
      await host.makeClean();
      host.write('index.html', 'changed\n');
      host.write('sub/new page.html');
      host.write('scratch.tmp'); // excluded: never reported
      const r = await host.locheck();
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^!! csync2: 3 files on this host are not yet synced to 2 peers:$/m);
      // The data directory itself is not listed: a directory's state has no mtime.
      const d = host.data;
      assert.deepEqual(reportedFiles(r.stdout), [
        `${d}/index.html -> beta, gamma`,
        `${d}/sub -> beta, gamma`,
        `${d}/sub/new page.html -> beta, gamma`,
      ]);
      assert.match(r.stdout, /Run "csync2 -x" to send them/);
      assert.doesNotMatch(r.stdout, /Log out anyway/);
    });

    test(`${impl}: forced entries are marked, and one file shows up once`, async () => {
      const host = new Host(impl);
      host.write('a.conf');
      const r0 = await host.csync2Run('-cr', '/');
      assert.equal(r0.code, 0, r0.stderr);
      const rf = await host.csync2Run('-f', join(host.data, 'a.conf'));
      assert.equal(rf.code, 0, rf.stderr);
      const r = await host.locheck(['-n']);
      assert.equal(r.code, 1);
      assert.deepEqual(reportedFiles(r.stdout), [`${host.data} -> beta, gamma`, `${host.data}/a.conf -> beta, gamma  (forced)`]);
      assert.match(r.stdout, /2 files on this host are not yet synced to 2 peers/);
    });
  }

  test('the stop switch: exit 2 with the reason on stderr, csync2 is not run', async () => {
    const host = new Host('ours');
    host.write('x');
    writeFileSync(join(host.etc, 'csync2.lock'), '');
    // A csync2 that would fail loudly proves it is not called.
    const r = await host.locheck([], { CSYNC2: '/bin/false' });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`syncing is switched off \\(${join(host.etc, 'csync2.lock')} exists\\)`));
  });

  test('csync2 cannot tell (host not in the config): exit 2 with csync2\'s message', async () => {
    const host = new Host('ours', 'nobody');
    const r = await host.locheck();
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /'csync2 -M' failed \(exit 1\)/);
    assert.match(r.stderr, /This host \(nobody\) is not a member of any configured group\./);
  });

  test('csync2 missing: exit 2, said on stderr', async () => {
    const host = new Host('ours');
    const r = await host.locheck([], { CSYNC2: join(host.root, 'no-such-csync2') });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no-such-csync2' not found/);
  });


  test('on a terminal: the list, then the question; anything but "yes" starts a login shell', async () => {
    const host = new Host('ours');
    host.write('f');
    const r = await onTerminal(host, 'no');
    assert.match(r.stdout, /2 files on this host are not yet synced to 2 peers/);
    assert.match(r.stdout, /Log out anyway\? Type "yes" to log out/);
    assert.match(r.stdout, /fake login shell -l/);
    assert.equal(r.code, 0, 'the exit status is the login shell\'s');
  });

  test('on a terminal: "yes" logs out (exit 1, no new shell)', async () => {
    const host = new Host('ours');
    host.write('f');
    const r = await onTerminal(host, 'yes');
    assert.match(r.stdout, /Log out anyway\?/);
    assert.doesNotMatch(r.stdout, /fake login shell/);
    assert.equal(r.code, 1);
  });
});
