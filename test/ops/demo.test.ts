/**
 * `make demo` (scripts/demo.sh): three hosts on loopback, push, change + deletion, a conflict resolved
 * with -f, a -T audit. The script checks its own claims (diff -r after every sync); these tests run it
 * as `make demo` does and also with the real csync2 as the client against our daemons, and check that
 * it exits 0, tells what happened, and leaves no process, lock or directory behind. A client that only
 * pretends to sync must make the demo fail loudly, again without leftovers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessTracker, type RunResult } from '../helpers/procs.js';
import { REAL_CSYNC2, REPO_ROOT } from '../helpers/paths.js';

const DEMO = join(REPO_ROOT, 'scripts', 'demo.sh');

interface DemoRun {
  result: RunResult;
  out: string;
  /** The daemons' pids (each leads its own process group), from "three daemons listen (pids ...)". */
  daemonPids: number[];
  /** The work directory, from "... all under DIR." */
  workDir: string;
  /** The loopback /24 the demo reserved, e.g. 127.80.3. */
  subnet: string;
}

async function runDemo(env: Record<string, string> = {}): Promise<DemoRun> {
  const tracker = new ProcessTracker();
  try {
    const result = await tracker.run(['bash', DEMO], { env: { ...process.env, ...env }, timeoutMs: 90_000 });
    const out = result.stdout.toString('utf8') + result.stderr.toString('utf8');
    const pids = /three daemons listen \(pids ([\d ]+)\)/.exec(out)?.[1] ?? '';
    return {
      result,
      out,
      daemonPids: pids.split(' ').filter((p) => p !== '').map(Number),
      workDir: /all under (\S+)\.$/m.exec(out)?.[1] ?? '',
      subnet: /^Hosts (127\.\d+\.\d+)\.1 /m.exec(out)?.[1] ?? '',
    };
  } finally {
    await tracker.stopAll();
    tracker.dispose();
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Processes whose command line mentions the demo's work directory (daemons run with -D WORK/hN/db). */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
      if (cmd.includes(dir)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function assertCleanedUp(run: DemoRun): void {
  assert.equal(run.daemonPids.length, 3, `three daemon pids in the output\n${run.out}`);
  for (const pid of run.daemonPids) assert.equal(groupAlive(pid), false, `daemon group ${pid} still alive\n${run.out}`);
  assert.notEqual(run.workDir, '', 'the work directory is named in the output');
  assert.deepEqual(processesUsing(run.workDir), [], 'no process still uses the work directory');
  assert.equal(existsSync(run.workDir), false, `${run.workDir} was removed`);
  assert.equal(existsSync(join(tmpdir(), 'csync2-ts-test-subnets', run.subnet)), false, `subnet lock ${run.subnet} released`);
}

/** The lines that tell a newcomer what happened, in order. */
const STORY = [
  /^== 1\. Set-up: a group key, one TLS certificate per host/m,
  /^== 2\. Start a daemon on each host/m,
  /^host1\$ csync2 -cIr h1\/data$/m,
  /^host1\$ csync2 -xv$/m,
  /ok: diff -r: the three data directories are identical \(9 entries delivered/,
  /ok: the excluded \.swp file stayed on host 1/,
  /^host2\$ csync2 -xv$/m,
  /the change and the deletion reached hosts 1 and 3/,
  /^== 7\. A conflict/m,
  /File stays in dirty state/,
  /^host3\$ csync2 -f h3\/data\/etc\/app\/app\.conf$/m,
  /everyone has host 3's app\.conf/,
  /^host3\$ csync2 -T\n {3}\(exit 2\)$/m,
  /ok: -T exits 2 on all hosts and no host has dirty entries left/,
  /^== 10\. Summary$/m,
  /Demo took \d+ s\./,
];

function assertStory(run: DemoRun): void {
  let from = 0;
  for (const line of STORY) {
    const m = line.exec(run.out.slice(from));
    assert.ok(m, `demo output lacks ${line} (after offset ${from})\n${run.out}`);
    from += m.index + m[0].length;
  }
  assert.doesNotMatch(run.out, /DEMO FAILED/);
}

test('make demo (ours everywhere): exits 0, tells the whole story, leaves nothing behind', async () => {
  const run = await runDemo();
  assert.equal(run.result.code, 0, run.out);
  assertStory(run);
  assert.match(run.out, new RegExp(`^Client: ${REPO_ROOT}/bin/csync2$`, 'm'));
  assertCleanedUp(run);
});

test('the demo with the real csync2 as the client against our three daemons', async () => {
  const run = await runDemo({ CSYNC2_DEMO_CLIENT: REAL_CSYNC2 });
  assert.equal(run.result.code, 0, run.out);
  assertStory(run);
  assert.match(run.out, new RegExp(`^Daemon: ${REPO_ROOT}/bin/csync2$`, 'm'));
  assertCleanedUp(run);
});

test('a client that only pretends to push makes the demo fail loudly, and it still cleans up', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csync2-ts-demo-liar-'));
  try {
    const liar = join(dir, 'csync2');
    // -x "succeeds" without sending anything; every other mode is the real csync2.
    writeFileSync(liar, `#!/bin/sh\ncase " $* " in *" -xv "*) exit 0;; esac\nexec ${REAL_CSYNC2} "$@"\n`);
    chmodSync(liar, 0o755);
    const run = await runDemo({ CSYNC2_DEMO_CLIENT: liar });
    assert.equal(run.result.code, 1, run.out);
    assert.match(run.out, /DEMO FAILED in step 5: the trees of host 1 and host 2 differ/);
    assert.match(run.out, /^Only in .*h1\/data: etc$/m, 'the diff -r output is shown');
    assert.doesNotMatch(run.out, /== 10\. Summary/);
    assertCleanedUp(run);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
