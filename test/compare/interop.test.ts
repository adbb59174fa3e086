/**
 * -T / -TT / -TI* of ours against real csync2 on the same databases and trees.
 *
 * Three hosts: A (the client), B (differs from A in every way -T knows) and C
 * (a copy of A, so A <-> C is in sync), plus a second group with its own key
 * and prefix between A and B. Every scenario runs first as the baseline (REAL
 * client, REAL daemons), then as our client vs real daemons, our client vs our
 * daemons and the real client vs our daemons (LIST and TYPE server side): exit
 * code, stdout and stderr must equal the baseline, and for the -TI forms the
 * dirty table A ends up with (A's database is restored after each marking run).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createCluster, formatRun, type Cluster, type Impl, type TestHost,
} from '../helpers/index.js';

const T0 = 1_600_000_000;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  dirty?: string[][];
}

interface Scenario {
  name: string;
  args: () => string[];
  /** Dump A's dirty table afterwards, then restore A's database. */
  marks?: boolean;
  /** Compare only these stderr lines (-vv also prints SQL and TLS library chatter that differs). */
  stderrLines?: RegExp;
}

let c: Cluster;
let A: TestHost;
let B: TestHost;
let C: TestHost;

const otherDir = (h: TestHost): string => join(h.root, 'other');

/** The config of every host; `nossl` only in the client's `strict` variant (the daemons refuse its plain HELLO). */
function config(nossl: boolean): string {
  {
    const hosts = c.hosts;
    let text = `group test\n{\n${hosts.map((x) => `\thost ${x.name};`).join('\n')}\n\tkey csync2.key;\n\tinclude %data%;\n}\n`
      + `group second\n{\n\thost ${A.name};\n\thost ${B.name};\n\tkey second.key;\n\tinclude %other%;\n}\n`
      + c.prefixBlock('data')
      + `prefix other\n{\n${hosts.map((x) => `\ton ${x.name}: ${otherDir(x)};`).join('\n')}\n}\n`;
    if (nossl) text += 'nossl * *;\n';
    return text;
  }
}

/** The trees: C is a copy of A; B differs from A in every way -T reports. */
async function buildTrees(): Promise<void> {
  const both: Record<string, string> = { common: 'same\n', 'sp ace': 's\n', 'q b': '1', 'per%cent': 'p' };
  const onlyA: Record<string, string> = { 'a only': 'A\n', 'q!b': '1', 'sub/x': 'x\n', '\xc3\xbc only a': 'u' };
  const onlyB: Record<string, string> = { 'b only': 'B\n', '\xc3\xbf1': 'y1', '\xc3\xbf2': 'y2', 'colon:name': 'c' };
  const differ: Record<string, [string, string]> = {
    diff: ['1\n', '22\n'], 'we:ird%$|': ['w', 'ww'], '\xc3\xa9t\xc3\xa9': ['\u00e9\n', '\u00e9t\n'], 'lat\xe9': ['l\n', 'LL\n'],
  };
  for (const h of [A, C]) {
    for (const [f, t] of Object.entries({ ...both, ...onlyA })) await h.write(f, t);
    for (const [f, [t]] of Object.entries(differ)) await h.write(f, t);
  }
  for (const [f, t] of Object.entries({ ...both, ...onlyB })) await B.write(f, t);
  for (const [f, [, t]] of Object.entries(differ)) await B.write(f, t);
  // The second group: A and B only.
  for (const [h, files] of [[A, { o1: 'same', o2: 'only A', o3: 'A', o35: 'only A' }], [B, { o1: 'same', o3: 'BB', o4: 'only B', o5: 'only B' }]] as const) {
    for (const [f, t] of Object.entries(files)) await h.write(`../other/${f}`, t);
  }
  // A key unlike the first group's whatever its first character (the same key would merge the groups in LIST).
  const secondKey = c.key.replace(/^./, (ch) => (ch === 'S' ? 'T' : 'S'));
  assert.notEqual(secondKey, c.key);
  for (const h of c.hosts) await writeFile(join(h.sysDir, 'second.key'), secondKey, { mode: 0o600 });
  for (const h of c.hosts) {
    for (const e of await h.treeSnapshot()) await h.setMtime(e.path, T0);
    await h.setMtime('', T0);
    const r = await h.run(['-cIr', h.path(''), otherDir(h)], { impl: 'real' });
    assert.equal(r.code, 0, formatRun(r));
  }
}

const F = (rel: string): string => A.path(rel);
const SCENARIOS: Scenario[] = [
  { name: 'all pairs', args: () => ['-T'] },
  { name: 'all pairs -v', args: () => ['-Tv'] },
  {
    name: 'all pairs -vv', args: () => ['-Tvv'],
    stderrLines: /^(Fetched tuple|End of query|Running in-sync|Connecting to host|Connect to|Bound to|Finished)/,
  },
  { name: 'pair with differences', args: () => ['-T', A.name, B.name] },
  { name: 'pair in sync', args: () => ['-T', A.name, C.name] },
  { name: 'file, every pair', args: () => ['-T', F('diff')] },
  { name: 'file with odd bytes', args: () => ['-T', F('we:ird%$|')] },
  { name: 'pair + identical file', args: () => ['-T', A.name, B.name, F('sp ace')] },
  { name: 'pair + remote-only file', args: () => ['-T', A.name, B.name, F('b only')] },
  { name: 'pair + file of the second group', args: () => ['-T', A.name, B.name, join(otherDir(A), 'o3')] },
  { name: 'host pair not found', args: () => ['-T', 'nobody', B.name] },
  { name: 'host pair not found (peer)', args: () => ['-T', A.name, 'nobody'] },
  { name: 'file outside every group', args: () => ['-T', '/nowhere/x'] },
  { name: 'diffs, all pairs', args: () => ['-TT'] },
  { name: 'diffs, one pair -v', args: () => ['-TTv', A.name, B.name] },
  { name: 'diff of a file against every peer', args: () => ['-TT', F('diff')] },
  { name: 'diff of one file and pair', args: () => ['-TT', A.name, B.name, F('diff')] },
  { name: 'diff of identical files', args: () => ['-TT', A.name, B.name, F('common')] },
  { name: 'diff, UTF-8 name', args: () => ['-TT', A.name, B.name, F('\xc3\xa9t\xc3\xa9')] },
  // (Arguments reach csync2 as UTF-8: this names a file neither side has.)
  { name: 'diff, missing on both sides', args: () => ['-TT', A.name, B.name, F('lat\xe9')] },
  { name: 'diff, local only', args: () => ['-TT', A.name, B.name, F('a only')] },
  { name: 'diff, remote only', args: () => ['-TT', A.name, B.name, F('b only')] },
  { name: 'diff, pair not found', args: () => ['-TT', A.name, 'nobody', F('diff')] },
  { name: '-G: only the second group', args: () => ['-G', 'second', '-T'] },
  { name: '-G: only the first group, one pair', args: () => ['-G', 'test', '-T', A.name, B.name] },
  { name: '-P: -TT file only in groups with that peer', args: () => ['-P', 'nobody', '-TT', F('diff')] },
  { name: 'identification refused', args: () => ['-C', 'strict', '-T', A.name, B.name] },
  { name: '-TI pair', args: () => ['-TI', A.name, B.name], marks: true },
  { name: '-TIX pair', args: () => ['-TIX', A.name, B.name], marks: true },
  { name: '-TIU pair', args: () => ['-TIU', A.name, B.name], marks: true },
  { name: '-TIXU pair', args: () => ['-TIXUv', A.name, B.name], marks: true },
  { name: '-TI all pairs', args: () => ['-TI'], marks: true },
  { name: '-TIX file', args: () => ['-TIX', F('b only')], marks: true },
  { name: '-TTI pair', args: () => ['-TTI', A.name, B.name], marks: true },
];

async function play(s: Scenario, impl: Impl): Promise<Outcome> {
  const saved = `${A.dbPath()}.saved`;
  if (s.marks) await copyFile(A.dbPath(), saved);
  const r = await A.run(s.args(), { impl });
  let stderr = r.stderr.toString('latin1');
  if (s.stderrLines) stderr = stderr.split('\n').filter((l) => s.stderrLines!.test(l)).join('\n');
  const out: Outcome = { code: r.code, stdout: r.stdout.toString('latin1'), stderr };
  if (s.marks) {
    out.dirty = await A.dump('dirty');
    await copyFile(saved, A.dbPath());
  }
  return out;
}

async function playAll(client: Impl, server: Impl): Promise<Map<string, Outcome>> {
  const daemons = [await B.startDaemon({ impl: server, verbose: 0 }), await C.startDaemon({ impl: server, verbose: 0 })];
  try {
    const out = new Map<string, Outcome>();
    for (const s of SCENARIOS) out.set(s.name, await play(s, client));
    return out;
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
  }
}

let baseline: Map<string, Outcome>;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }, { impl: 'real' }] });
  [A, B, C] = c.hosts as [TestHost, TestHost, TestHost];
  await c.writeConfig(config(false));
  await A.writeConfig(config(true), 'strict');
  await B.writeConfig(config(false), 'strict');
  await buildTrees();
  // Pin the certificates before A's database is first saved (-TI runs restore it).
  for (const impl of ['real', 'ours'] as const) {
    const d = await B.startDaemon({ impl, verbose: 0 });
    await A.run(['-T', A.name, B.name, F('common')], { impl: 'real' });
    await d.stop();
  }
  baseline = await playAll('real', 'real');
});

after(() => c?.cleanup());

const lines = (o: Outcome | undefined): string[] => (o?.stdout ?? '').split('\n');
const tab = (...f: string[]): string => f.join('\t');

test('baseline: real csync2 shows what the scenarios are about', () => {
  const all = baseline.get('all pairs')!;
  assert.equal(all.code, 0, all.stderr);
  const [a, b] = [A.name, B.name];
  const l = lines(all);
  for (const want of [tab('L', a, b, '%data%/a only'), tab('R', a, b, '%data%/b only'), tab('X', a, b, '%data%/diff'),
    tab('X', a, b, '%data%/we:ird%$|'), tab('R', a, b, '%data%/colon:name'), tab('L', a, b, '%other%/o2'),
    tab('X', a, b, '%other%/o3'), tab('L', a, b, '%other%/o35'), tab('R', a, b, '%other%/o5'),
    tab('X', a, b, '%data%/\xc3\xa9t\xc3\xa9'), tab('R', a, b, '%data%/\xc3\xbf1'), tab('X', a, b, '%data%/lat\xe9')]) {
    assert.ok(l.includes(want), `missing ${JSON.stringify(want)} in\n${all.stdout}`);
  }
  // Encoded order vs decoded compare: "q b" exists on both sides and still shows as R and L.
  assert.ok(l.includes(tab('R', a, b, '%data%/q b')) && l.includes(tab('L', a, b, '%data%/q b')), all.stdout);
  // The row held back when A's rows ran out (o4, after A's last row o35) is never reported.
  assert.ok(!all.stdout.includes('%other%/o4'), all.stdout);
  assert.ok(!all.stdout.includes(`\t${C.name}\t`), 'A and C are in sync');
  assert.match(baseline.get('all pairs -vv')!.stderr, /^Fetched tuple from peer: %data%\/q b \[v1:mtime=1600000000:mode=33188:uid=0:gid=0:type=reg:size=1\]$/m);
  assert.match(baseline.get('all pairs -vv')!.stderr, /^End of query results: OK \(cmd_finished\)\.$/m);
  const onlySecond = lines(baseline.get('-G: only the second group')).filter((x) => x !== '');
  assert.ok(onlySecond.length > 0 && onlySecond.every((x) => x.includes('%other%/')), onlySecond.join('\n'));
  assert.deepEqual([baseline.get('-P: -TT file only in groups with that peer')!.stdout, baseline.get('-P: -TT file only in groups with that peer')!.code], ['', 2]);
  assert.equal(baseline.get('pair in sync')!.code, 2);
  assert.equal(baseline.get('pair + identical file')!.code, 2);
  assert.equal(baseline.get('diff of a file against every peer')!.code, 2, '-TT file never reports differences');
  assert.equal(baseline.get('diff of one file and pair')!.code, 0);
  assert.match(baseline.get('diff of identical files')!.stdout, /^Files .* are identical\n$/);
  assert.match(baseline.get('diff of one file and pair')!.stdout, new RegExp(`^--- ${B.name}:%data%/diff\n\\+\\+\\+ ${A.name}:%data%/diff\n`));
  // A name that is not UTF-8 reaches diff byte for byte.
  assert.ok(baseline.get('diffs, one pair -v')!.stdout.includes(
    `--- ${B.name}:%data%/lat\xe9\n+++ ${A.name}:%data%/lat\xe9\n@@ -1 +1 @@\n-LL\n+l\n`), baseline.get('diffs, one pair -v')!.stdout);
  assert.equal(baseline.get('diff, remote only')!.stdout,
    `--- ${B.name}:%data%/b only\n+++ ${A.name}:%data%/b only\n@@ -1 +0,0 @@\n-B\n`);
  assert.equal(baseline.get('host pair not found')!.stderr, 'Host pair not found in configuration.\nFinished with 1 errors.\n');
  assert.equal(baseline.get('diff, pair not found')!.stderr, 'Host pair + file not found in configuration.\nFinished with 1 errors.\n');
  assert.match(baseline.get('identification refused')!.stderr, /^ERROR: remote host \S+ did not accept my identification\.\n/);
  assert.match(baseline.get('file outside every group')!.stderr, /^WARNING: Parameter will be ignored: \/nowhere\/x\n/);
  assert.ok(baseline.get('-TIX pair')!.dirty!.length > baseline.get('-TI pair')!.dirty!.length, 'R files marked with -X');
  assert.ok(baseline.get('-TIU pair')!.dirty!.every((r) => r[3] === B.name), '-U marks for the compared peer only');
  assert.ok(baseline.get('-TI pair')!.dirty!.some((r) => r[3] === C.name), 'without -U every peer gets the row');
});

function compareWithBaseline(got: Map<string, Outcome>, label: string): void {
  const failures: string[] = [];
  for (const s of SCENARIOS) {
    const want = baseline.get(s.name)!;
    const have = got.get(s.name)!;
    try {
      assert.deepEqual(have, want);
    } catch {
      failures.push(`--- ${s.name} (${s.args().join(' ')})\n    real: ${JSON.stringify(want)}\n    ${label}: ${JSON.stringify(have)}`);
    }
  }
  assert.deepEqual(failures, [], failures.join('\n'));
}

test('our client against real daemons = real csync2', async () => {
  compareWithBaseline(await playAll('ours', 'real'), 'ours');
});

test('our client against our daemons = real csync2', async () => {
  compareWithBaseline(await playAll('ours', 'ours'), 'ours');
});

test('real client against our daemons (LIST, TYPE) = real csync2', async () => {
  compareWithBaseline(await playAll('real', 'ours'), 'real+ours');
});

test('peer down: same message, exit code and nothing on stdout', async () => {
  const want = await A.run(['-T', A.name, B.name], { impl: 'real' });
  const have = await A.run(['-T', A.name, B.name], { impl: 'ours' });
  assert.equal(want.code, 1);
  assert.match(want.stderr.toString(), /^ERROR: Connection to remote host `\S+' failed\.\nFinished with 1 errors\.\n$/);
  assert.deepEqual([have.code, have.stdout.toString(), have.stderr.toString()], [want.code, want.stdout.toString(), want.stderr.toString()]);
});

interface JsonLine {
  type: string;
  [k: string]: unknown;
}

async function jsonRun(args: string[]): Promise<{ code: number | null; objects: JsonLine[]; stderr: string }> {
  const r = await A.run(args, { impl: 'ours', env: { CSYNC2_TS_JSON: '1' } });
  const text = r.stdout.toString('utf8');
  return { code: r.code, objects: text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonLine), stderr: r.stderr.toString('latin1') };
}

test('CSYNC2_TS_JSON=1: one object per difference, per pair and a summary; same exit codes and messages', async () => {
  const daemons = [await B.startDaemon({ impl: 'real', verbose: 0 }), await C.startDaemon({ impl: 'ours', verbose: 0 })];
  try {
    const all = await jsonRun(['-T']);
    const want = baseline.get('all pairs')!;
    assert.equal(all.code, want.code);
    assert.equal(all.stderr, want.stderr);
    const diffs = all.objects.filter((o) => o.type === 'difference');
    // The same differences in the same order as csync2's lines (names as UTF-8 text, raw bytes in *_base64).
    const asLines = diffs.map((o) => {
      const file = o.file_base64 ? Buffer.from(o.file_base64 as string, 'base64').toString('latin1') : Buffer.from(o.file as string, 'utf8').toString('latin1');
      return tab(o.kind as string, o.myname as string, o.peer as string, file);
    });
    assert.deepEqual(asLines, want.stdout.split('\n').filter((l) => l !== ''));
    const x = diffs.find((o) => o.file === '%data%/diff')!;
    assert.deepEqual([x.kind, x.state, x.marked_dirty], ['X', 'differs', false]);
    assert.match(x.local_checktxt as string, /^v1:mtime=1600000000:.*:size=2$/);
    assert.match(x.remote_checktxt as string, /^v1:mtime=1600000000:.*:size=3$/);
    const latin1 = diffs.find((o) => o.file_base64 !== undefined)!;
    assert.equal(Buffer.from(latin1.file_base64 as string, 'base64').toString('latin1'), '%data%/lat\xe9');
    assert.equal(latin1.file, '%data%/lat\ufffd');
    const pairs = all.objects.filter((o) => o.type === 'pair');
    assert.deepEqual(pairs.map((p) => [p.peer, p.status]), [[C.name, 'in_sync'], [B.name, 'differences']]);
    const pb = pairs[1]!;
    assert.equal((pb.local_only as number) + (pb.remote_only as number) + (pb.differs as number), diffs.length);
    assert.deepEqual(all.objects.at(-1), {
      type: 'summary', status: 'differences', pairs: 2, in_sync: 1, out_of_sync: 1, failed: 0, differences: diffs.length, errors: 0,
    });

    const inSync = await jsonRun(['-T', A.name, C.name]);
    assert.equal(inSync.code, 2);
    assert.deepEqual(inSync.objects.map((o) => [o.type, o.status]), [['pair', 'in_sync'], ['summary', 'in_sync']]);

    const unknown = await jsonRun(['-T', 'nobody', B.name]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, baseline.get('host pair not found')!.stderr);
    assert.deepEqual(unknown.objects.map((o) => [o.type, o.status, o.error ?? null]),
      [['pair', 'error', 'Host pair not found in configuration.'], ['summary', 'error', null]]);

    const saved = `${A.dbPath()}.saved`;
    await copyFile(A.dbPath(), saved);
    const marked = await jsonRun(['-TIX', A.name, B.name]);
    await copyFile(saved, A.dbPath());
    assert.ok(marked.objects.filter((o) => o.type === 'difference').every((o) => o.marked_dirty === true));
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
  }
});
