/**
 * Matching decisions against the real csync2 on the same tree and config:
 * `csync2 -o -r DIR` (compare mode) lists every file its walk finds in a
 * group, `-c -r DIR` + `-M` shows which peers and myname each file was marked
 * for. Our side walks the tree with the same rules as check.c, using only the
 * Matcher (matchFile for descent, findPeers for marking).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Matcher } from '../../src/config/match.js';
import type { Config } from '../../src/config/model.js';
import { prefixSubst } from '../../src/config/prefix.js';
import { urlEncode } from '../../src/protocol/urlencode.js';
import { fromBuf, toBuf, type BStr } from '../../src/util/bytes.js';
import { loadOurs, runReal, sandbox, writeConfig, type Sandbox } from './real-csync2.js';

let sb: Sandbox;
let T: string;

const TREE_FILES = [
  'a/x.txt', 'a/b/y.txt', 'a/b/z~', 'a/.dot', 'a/b/c/deep.log', 'a/1num', 'ab/other.txt',
  'c/w', 'c/sub/v.txt', 'd/e/f/g.txt', 'd/e/h.txt', 'd/e.txt', 'x/b/no.txt',
  'sp ace/f 1.txt', 'pct%dir/p%.txt', 'co:lon/k:v', 'hi\xe9/\xff.bin', 'hi\xe9/ok', 'br[ack]et/q',
];

before(() => {
  sb = sandbox();
  T = join(sb.root, 'T');
  for (const f of TREE_FILES) {
    const full = toBuf(join(T, f));
    mkdirSync(toBuf(join(T, f, '..')), { recursive: true });
    writeFileSync(full, f);
  }
});
after(() => sb.cleanup());

function load(text: string, opts: { groupList?: string; peerList?: string } = {}): Config {
  // Only a T that starts a word: the sandbox's own random name (in the actions' log paths) may
  // contain "T/" too (1 run in 62 failed on it).
  writeConfig(sb, text.replace(/(?<=^|[\s"])T(?=[/;])/g, T));
  const r = loadOurs(sb, 'h1', opts);
  if (!r.cfg) throw r.error;
  return r.cfg;
}

/** check.c's csync_check + csync_check_mod walk, returning the files it finds in a group (in its order). */
function walk(m: Matcher, cfg: Config, start: BStr, recursive: boolean): BStr[] {
  const found: BStr[] = [];
  const checkMod = (file: BStr, ignoreMissing: boolean): void => {
    let type = m.matchFile(file);
    if (file[0] !== '%') {
      for (const p of cfg.prefixes) {
        if (p.path === null) continue;
        if (file === p.path) {
          checkMod(`%${p.name}%`, ignoreMissing);
          continue;
        }
        if (type < 1 && file.length < p.path.length && p.path[file.length] === '/' && p.path.startsWith(file)) type = 1;
      }
    }
    if (type === 0) return;
    const real = prefixSubst(cfg, file);
    let isDir: boolean;
    try {
      isDir = lstatSync(toBuf(real)).isDirectory();
    } catch (err) {
      if (ignoreMissing) return;
      throw err;
    }
    if (type === 2) found.push(file);
    if (!recursive || !isDir) return;
    const names = readdirSync(toBuf(real), { encoding: 'buffer' }).map(fromBuf).sort();
    for (let i = names.length - 1; i >= 0; i--) checkMod(file === '/' ? `/${names[i]}` : `${file}/${names[i]}`, false);
  };
  checkMod(start, true);
  if (start[0] === '/') {
    for (const p of cfg.prefixes) {
      if (p.path === null) continue;
      if (start.startsWith(p.path) && (start.length === p.path.length || start[p.path.length] === '/')) {
        checkMod(`%${p.name}%${start.slice(p.path.length)}`, true);
      }
    }
  }
  return found;
}

function lines(s: BStr): BStr[] {
  return s.split('\n').filter((l) => l !== '');
}

function warnings(stderr: BStr): BStr[] {
  return lines(stderr).filter((l) => l.startsWith('WARNING: Parameter will be ignored: ')).map((l) => l.slice(36));
}

interface Scenario {
  name: string;
  cfg: string;
  args?: string[];
  /** Paths (relative to T, or absolute) given to -o -r. */
  roots?: string[];
  /** Files our walk must list (a sanity check that the scenario tests something). */
  mustList?: string[];
  mustNotList?: string[];
}

const SCENARIOS: Scenario[] = [
  { name: 'pathname include with basename excludes', cfg: 'group g { host h1 h2; key csync2.key; include T/a; exclude *~ .*; }',
    mustList: ['a/x.txt', 'a/b/c/deep.log'], mustNotList: ['a/b/z~', 'a/.dot', 'ab/other.txt'] },
  // `T/d/**.txt` matches T/d/e/f/g.txt, but the walk never enters T/d/e: only the pattern's own
  // leading directories (T/d) are stepped into.
  { name: 'star does not cross / but ** does; ** does not make the walk descend', cfg: 'group g { host h1 h2; key csync2.key; include T/*/b T/d/**.txt; }',
    mustList: ['a/b/y.txt', 'x/b/no.txt', 'd/e.txt'], mustNotList: ['a/x.txt', 'c/w', 'd/e/f/g.txt'] },
  { name: '** files are found when named directly (not by walking below)', cfg: 'group g { host h1 h2; key csync2.key; include T/d/**.txt; }',
    roots: ['d/e', 'd/e/f/g.txt', 'd/e/h.txt'], mustList: ['d/e/f/g.txt', 'd/e/h.txt'] },
  { name: 'exclude after include, re-include deeper', cfg: 'group g { host h1 h2; key csync2.key; include T; exclude T/a/b; include T/a/b/c; }',
    mustList: ['a/x.txt', 'a/b/c/deep.log'], mustNotList: ['a/b/y.txt'] },
  { name: 'later basename include wins over an earlier exclude', cfg: 'group g { host h1 h2; key csync2.key; include T/d; exclude *.txt; include h.txt; }',
    mustList: ['d/e/h.txt'], mustNotList: ['d/e.txt'] },
  { name: 'a directory excluded by a basename pattern is not entered', cfg: 'group g { host h1 h2; key csync2.key; include T/d; exclude *; include *.txt; }',
    mustNotList: ['d/e/h.txt'] },
  { name: 'compare patterns count in -o', cfg: 'group g { host h1 h2; key csync2.key; include T/a; compare T/c; }', mustList: ['c/sub/v.txt'] },
  { name: 'compare list quirk in -o', cfg: 'group g { host h1 h2; key csync2.key; compare T/c T/d/e; }', mustList: ['c/w', 'd/e/h.txt'] },
  { name: '-P keeps groups with that peer', cfg: 'group g { host h1 h2; key csync2.key; include T/a; } group k { host h1 h3; key csync2.key; include T/c; }',
    args: ['-P', 'h3'], mustList: ['c/w'], mustNotList: ['a/x.txt'] },
  { name: '-P without a matching peer lists nothing', cfg: 'group g { host h1 h2; key csync2.key; include T/a; }', args: ['-P', 'H2'], mustNotList: ['a/x.txt'] },
  { name: '-G selects groups', cfg: 'group g { host h1 h2; key csync2.key; include T/a; } group k { host h1 h3; key csync2.key; include T/c; }',
    args: ['-G', 'g'], mustList: ['a/x.txt'], mustNotList: ['c/w'] },
  { name: 'inactive groups are ignored', cfg: 'group g { host h1 h2; key csync2.key; include T/a; } group k { host h4 h3; key csync2.key; include T/c; }',
    mustNotList: ['c/w'] },
  { name: 'prefix patterns', cfg: 'group g { host h1 h2; key csync2.key; include %p%/e; exclude %p%/e/f; } prefix p { on h1: T/d; on *: /nonexistent; }',
    mustList: ['%p%/e/h.txt'], mustNotList: ['%p%/e/f/g.txt'] },
  { name: 'names with spaces, %, : and bytes >= 0x80', cfg: 'group g { host h1 h2; key csync2.key; include "T/sp ace" T/pct%dir T/co:lon "T/hi\xe9"; exclude "*\xff*"; }',
    mustList: ['sp ace/f 1.txt', 'pct%dir/p%.txt', 'co:lon/k:v', 'hi\xe9/ok'], mustNotList: ['hi\xe9/\xff.bin'] },
  { name: 'brackets, classes and ?', cfg: 'group g { host h1 h2; key csync2.key; include T/[a-c] T/?/b "T/br\\[ack]et"; exclude [[:digit:]]*; }',
    mustList: ['a/x.txt', 'c/w', 'x/b/no.txt', 'br[ack]et/q'], mustNotList: ['a/1num', 'ab/other.txt'] },
  { name: 'several roots, some useless', cfg: 'group g { host h1 h2; key csync2.key; include T/a/b T/c/sub; }',
    roots: ['a', 'a/b', 'c', 'd', 'nonexistent', '/'], mustList: ['a/b/y.txt'] },
];

describe('matching agrees with real csync2 -o', () => {
  for (const s of SCENARIOS) {
    it(s.name, () => {
      const gi = s.args?.indexOf('-G') ?? -1;
      const pi = s.args?.indexOf('-P') ?? -1;
      const cfg = load(s.cfg, { groupList: gi >= 0 ? s.args![gi + 1] : undefined, peerList: pi >= 0 ? s.args![pi + 1] : undefined });
      const roots = (s.roots ?? ['']).map((r) => (r.startsWith('/') ? r : r === '' ? T : `${T}/${r}`));
      rmSync(join(sb.db, 'h1.db3'), { force: true });
      const real = runReal(sb, 'h1', [...(s.args ?? []), '-o', '-r', ...roots]);
      assert.equal(real.status, 0, real.stderr);

      const m = new Matcher(cfg);
      m.compareMode = true;
      const ours: BStr[] = [];
      const useless: BStr[] = [];
      for (const r of roots) {
        if (!m.isUseful(r, true)) useless.push(r);
        ours.push(...walk(m, cfg, r, true));
      }
      assert.deepEqual(ours, lines(real.stdout));
      assert.deepEqual(useless, warnings(real.stderr));
      const rel = ours.map((f) => (f.startsWith(`${T}/`) ? f.slice(T.length + 1) : f));
      for (const f of s.mustList ?? []) assert.ok(rel.includes(f), `should list ${f}`);
      for (const f of s.mustNotList ?? []) assert.ok(!rel.includes(f), `should not list ${f}`);
    });
  }
});

describe('marking agrees with real csync2 -c + -M', () => {
  const cases: { name: string; cfg: string }[] = [
    { name: 'the last declared group gives the myname; peers once each; compare list quirk outside compare mode',
      cfg: `group g1 { host h1@m1 h2; key csync2.key; include T/a; }
            group g2 { host h1@m2 h2 (h3); key csync2.key; include T/a/b; compare T/c T/d; }` },
    { name: 'prefixed names and slaves', cfg: `group g { host (h1) h2 h3@i3; key csync2.key; include %p% T/c; exclude %p%/e/f; }
            prefix p { on h1: T/d; }` },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const cfg = load(c.cfg);
      rmSync(join(sb.db, 'h1.db3'), { force: true });
      const check = runReal(sb, 'h1', ['-c', '-r', T]);
      assert.equal(check.status, 0, check.stderr);
      const real = lines(runReal(sb, 'h1', ['-M']).stdout).map((l) => l.split('\t').slice(1).join('\t')).sort();

      const m = new Matcher(cfg);
      const ours = walk(m, cfg, T, true)
        .flatMap((f) => m.findPeers(f, null).map((p) => `${p.myname}\t${p.peername}\t${f}`)).sort();
      assert.ok(ours.length > 0);
      assert.deepEqual(ours, real);
    });
  }
});

describe('action patterns agree with real csync2 -c (do-local actions)', () => {
  it('which files trigger which local action', () => {
    const log1 = join(sb.root, 'act1.log');
    const log2 = join(sb.root, 'act2.log');
    const log3 = join(sb.root, 'act3.log');
    const cfg = load(`group g { host h1 h2; key csync2.key; include T/a T/c T/d %p%;
        action { pattern T/a/b T/c/*; exec "echo %% >> ${log1}"; do-local; }
        action { pattern *.txt T/d/**.txt %p%/h.txt; exec "echo %% >> ${log2}"; do-local-only; }
        action { exec "echo %% >> ${log3}"; }
      }
      group k { host h9 h2; key csync2.key; include T; action { exec "echo %% >> ${log3}"; do-local; } }
      prefix p { on h1: T/d/e; }`);
    rmSync(join(sb.db, 'h1.db3'), { force: true });
    for (const f of [log1, log2, log3]) rmSync(f, { force: true });
    const real = runReal(sb, 'h1', ['-c', '-r', T]);
    assert.equal(real.status, 0, real.stderr);
    const logged = (f: string): string[] => {
      try {
        return lines(fromBuf(readFileSync(f))).flatMap((l) => l.split(' ')).sort();
      } catch {
        return [];
      }
    };

    const m = new Matcher(cfg);
    const ours = new Map<string, string[]>([[log1, []], [log2, []], [log3, []]]);
    for (const file of walk(m, cfg, T, true)) {
      for (const g of m.groupsFor(file)) {
        for (const a of g.actions) {
          if (!a.doLocal || !m.actionMatches(a, file)) continue;
          for (const cmd of a.commands) ours.get(cmd.slice(cmd.indexOf('>> ') + 3))!.push(urlEncode(file)); // %% lists DB names
        }
      }
    }
    for (const [f, files] of ours) assert.deepEqual(files.sort(), logged(f), f);
    assert.ok(ours.get(log1)!.includes(`${T}/a/b/c/deep.log`));
    assert.ok(ours.get(log2)!.includes(`${T}/d/e/f/g.txt`)); // ** crosses /
    assert.ok(ours.get(log2)!.includes('%25p%25/h.txt'));
    assert.deepEqual(ours.get(log3), []);
  });
});

describe('Matcher API', () => {
  const text = `group g1 { host h1 a (s); key csync2.key; include /srv; exclude /srv/tmp; compare /cmp; }
    group g2 { host h1@me2 a b; key "SYS/k2.key"; include /srv/shared; }`;
  let cfg: Config;
  let key1: string;
  let key2: string;
  before(() => {
    writeFileSync(join(sb.sys, 'k2.key'), 'K'.repeat(40) + '\n');
    cfg = load(text.replace('SYS', sb.sys));
    key1 = cfg.groups[1]!.key;
    key2 = cfg.groups[0]!.key;
  });

  it('findNext / groupsFor / inAnyGroup walk active groups in run-time order', () => {
    const m = new Matcher(cfg);
    assert.deepEqual(m.groupsFor('/srv/shared/x').map((g) => g.name), ['g2', 'g1']);
    assert.equal(m.findNext('/srv/shared/x', cfg.groups[0]!)?.name, 'g1');
    assert.equal(m.findNext('/srv/shared/x', cfg.groups[1]!), null);
    assert.equal(m.inAnyGroup('/srv/tmp/x'), false);
    assert.equal(m.inAnyGroup('/cmp/x'), false);
    m.compareMode = true;
    assert.equal(m.inAnyGroup('/cmp/x'), true);
  });

  it('stepInto and matchFile', () => {
    const m = new Matcher(cfg);
    assert.equal(m.stepInto('/'), true);
    assert.equal(m.matchFile('/srv/shared'), 2);
    assert.equal(m.matchFile('/srv/tmp'), 0);
    assert.equal(m.matchFile('/other'), 0);
    assert.equal(m.matchFile('/cmp'), 0);
    m.compareMode = true;
    assert.equal(m.matchFile('/cmp'), 2);
  });

  it('key, perm, matchFileHost, findPeers', () => {
    const m = new Matcher(cfg);
    assert.equal(m.key('a', '/srv/shared/x'), key2);
    assert.equal(m.key('s', '/srv/shared/x'), key1);
    assert.equal(m.key('b', '/srv/x'), null);
    assert.equal(m.perm('/srv/x', key1, 'a'), 0);
    assert.equal(m.perm('/srv/x', key1, 's'), 2);
    assert.equal(m.perm('/srv/x', key2, 'a'), 1);
    assert.equal(m.perm('/srv/x', key1, null), 1);
    assert.equal(m.perm('/srv/tmp/x', key1, 'a'), 1);
    assert.equal(m.matchFileHost('/srv/shared/x', 'me2', 'b', null), true);
    assert.equal(m.matchFileHost('/srv/shared/x', 'h1', 'b', null), false);
    assert.equal(m.matchFileHost('/srv/shared/x', 'h1', 'a', [key2, key1]), true);
    assert.equal(m.matchFileHost('/srv/shared/x', 'h1', 'a', ['', key1]), false); // list ends at an empty key
    assert.deepEqual(m.findPeers('/srv/shared/x', null), [
      { peername: 'a', myname: 'me2' }, { peername: 'b', myname: 'me2' }, { peername: 's', myname: 'h1' }]);
    assert.deepEqual(m.findPeers('/srv/shared/x', 's'), [{ peername: 'a', myname: 'h1' }, { peername: 's', myname: 'h1' }]);
  });

  it('a group disabled after construction (GROUP command) is skipped', () => {
    const local = load(text.replace('SYS', sb.sys));
    const m = new Matcher(local);
    local.groups[0]!.active = false;
    assert.deepEqual(m.groupsFor('/srv/shared/x').map((g) => g.name), ['g1']);
  });

  it('actionMatches: whole-path patterns with LEADING_DIR, ** crosses /', () => {
    const m = new Matcher(cfg);
    const block = (patterns: string[]) => ({ patterns, commands: ['x'], logfile: '/dev/null', doLocal: false, doLocalOnly: false });
    assert.equal(m.actionMatches(block([]), '/anything'), true);
    assert.equal(m.actionMatches(block(['/etc/apache']), '/etc/apache/sites/x'), true);
    assert.equal(m.actionMatches(block(['/etc/*.conf']), '/etc/a.conf'), true);
    assert.equal(m.actionMatches(block(['/etc/*.conf']), '/etc/sub/a.conf'), false);
    assert.equal(m.actionMatches(block(['*.conf']), '/etc/a.conf'), false);
    assert.equal(m.actionMatches(block(['**.conf']), '/etc/sub/a.conf'), true);
    assert.equal(m.actionMatches(block(['/nope', '%data%/x']), '%data%/x/y'), true);
  });

  it('isUseful: a path above a prefix directory, and prefix-encoded paths', () => {
    const c = load('group g { host h1 h2; key csync2.key; include %p%/e; } prefix p { on h1: /srv/deep/d; }');
    const m = new Matcher(c);
    assert.equal(m.isUseful('/srv', false), true);
    assert.equal(m.isUseful('/srv/deep/d/e/x', false), true);
    assert.equal(m.isUseful('/srv/deep/d/other', false), false);
    assert.equal(m.isUseful('/srv/deep/d', true), true);
    assert.equal(m.isUseful('/srv/deep/d', false), false);
  });

  it('inAnyGroup is fast: 50k paths through ~6 patterns', () => {
    const c = load(`group g { host h1 h2; key csync2.key; include /srv/data %p%/x; exclude *~ .*; exclude /srv/data/tmp; exclude *.o; }
      prefix p { on h1: /opt/p; }`);
    const m = new Matcher(c);
    const paths: string[] = [];
    for (let i = 0; i < 50000; i++) paths.push(`/srv/data/dir${i % 97}/sub${i % 13}/file-${i}${i % 10 === 0 ? '.o' : '.txt'}`);
    let best = Infinity;
    let n = 0;
    for (let round = 0; round < 5; round++) {
      const t0 = process.hrtime.bigint();
      n = 0;
      for (const p of paths) if (m.inAnyGroup(p)) n++;
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
    }
    assert.equal(n, 45000);
    console.log(`# inAnyGroup: 50k paths in ${best.toFixed(1)} ms (best of 5)`);
    assert.ok(best < 100, `took ${best} ms`);
  });
});
