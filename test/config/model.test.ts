/**
 * The Config model loadConfig() builds: csync2's list orders and parser quirks
 * (config.md §4, §5), -G / -P, the GROUP command bug, prefixes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atoi } from '../../src/config/builder.js';
import { ConfigParser } from '../../src/config/parser.js';
import { disableGroupsForGroupCommand, hasActiveGroup } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { prefixEncode, prefixSubst } from '../../src/config/prefix.js';
import { ConfigError, FatalError } from '../../src/util/errors.js';
import { log } from '../../src/util/log.js';
import { loadOurs, sandbox, writeConfig, type Sandbox } from './real-csync2.js';

let sb: Sandbox;
before(() => { sb = sandbox(); });
after(() => sb.cleanup());

function load(text: string, host = 'h1', opts: { groupList?: string | null; peerList?: string | null } = {}): Config {
  writeConfig(sb, text);
  const r = loadOurs(sb, host, opts);
  if (!r.cfg) throw r.error;
  return r.cfg;
}

describe('config model', () => {
  it('the grammar passes chevrotain validations (LL(1), no ambiguity)', () => {
    assert.doesNotThrow(() => new ConfigParser(true));
  });

  it('groups are in reverse declaration order; hosts and patterns in declaration order', () => {
    const cfg = load(`
      group g1 { host h1 a; key csync2.key; include /1; }
      group g2 { host h1 b c d; key csync2.key; include /x; exclude *~; include /y/; }
      group g3 { host h1; key csync2.key; }`);
    assert.deepEqual(cfg.groups.map((g) => g.name), ['g3', 'g2', 'g1']);
    const g2 = cfg.groups[1]!;
    assert.deepEqual(g2.hosts.map((h) => h.name), ['b', 'c', 'd']);
    assert.deepEqual(g2.patterns.map((p) => [p.kind, p.pattern]), [['include', '/x'], ['exclude', '*~'], ['include', '/y']]);
  });

  it('action blocks, their patterns and commands are reversed; logfile defaults to /dev/null', () => {
    const cfg = load(`group g { host h1; key csync2.key;
      action { pattern /a /b; pattern /c; exec "one 1" two; logfile /tmp/l; do-local; }
      action { exec three; do-local-only; } }`);
    const [first, second] = cfg.groups[0]!.actions;
    assert.deepEqual(first, { patterns: [], commands: ['three'], logfile: '/dev/null', doLocal: true, doLocalOnly: true });
    assert.deepEqual(second, { patterns: ['/c', '/b', '/a'], commands: ['two', 'one 1'], logfile: '/tmp/l', doLocal: true, doLocalOnly: false });
  });

  it('compare A B C makes A and B include patterns (bison quirk)', () => {
    const cfg = load('group g { host h1; key csync2.key; compare /a /b /c; compare /d; }');
    assert.deepEqual(cfg.groups[0]!.patterns.map((p) => [p.kind, p.pattern]),
      [['include', '/a'], ['include', '/b'], ['compare', '/c'], ['compare', '/d']]);
  });

  it('pattern flags: trailing slashes stripped, ** and pathname detection', () => {
    const cfg = load('group g { host h1; key csync2.key; include / // /a/// %p%/x *.c a/ /b/**/c; }');
    assert.deepEqual(cfg.groups[0]!.patterns.map((p) => [p.pattern, p.pathname, p.starMatchesSlashes]), [
      ['/', true, false], ['/', true, false], ['/a', true, false], ['%p%/x', true, false], ['*.c', false, false],
      ['a', false, false], ['/b/**/c', true, true],
    ]);
  });

  it('hosts: lower-cased, @iface, slaves, left side, local entry (later one wins)', () => {
    const cfg = load('group g { host A1 H1@Eth0 (B2 c3@IF) d4; host (h1@x); key csync2.key; }');
    const g = cfg.groups[0]!;
    assert.equal(g.myname, 'x');
    assert.equal(g.localIsSlave, true);
    assert.deepEqual(g.hosts, [
      { name: 'a1', slave: false, leftSide: true },
      { name: 'b2', slave: true, leftSide: false },
      { name: 'if', slave: true, leftSide: false },
      { name: 'd4', slave: false, leftSide: false },
    ]);
    assert.equal(g.active, true);
  });

  it('tolower only changes A-Z (C locale)', () => {
    const cfg = load('group g { host h1 "\xc9X"; key csync2.key; }');
    assert.equal(cfg.groups[0]!.hosts[0]!.name, '\xc9x');
  });

  it('unnamed groups are group_1, group_2 in file order', () => {
    const cfg = load('group { host h1; key csync2.key; } group named { host h1; key csync2.key; } group { host h1; key csync2.key; }');
    assert.deepEqual(cfg.groups.map((g) => g.name), ['group_2', 'named', 'group_1']);
  });

  it('key, key file path, defaults and numeric fields (atoi)', () => {
    const cfg = load(`group g { host h1; key csync2.key; backup-directory /var/bak; backup-generations " 7x"; auto younger; }
      group d { host h1; key csync2.key; }`);
    const [d, g] = cfg.groups;
    assert.equal(g!.key, readFileSync(join(sb.sys, 'csync2.key'), 'latin1').trim());
    assert.equal(g!.keyFile, join(sb.sys, 'csync2.key'));
    assert.equal(g!.backupDirectory, '/var/bak');
    assert.equal(g!.backupGenerations, 7);
    assert.equal(g!.auto, 'younger');
    assert.equal(d!.auto, 'none');
    assert.equal(d!.backupDirectory, null);
    assert.equal(d!.backupGenerations, 3);
    assert.equal(g!.line, 1);
    assert.equal(d!.line, 2);
    assert.deepEqual(['12', '-3', 'x', '', '+5', '  \t9', '99999999999', '-99999999999', '99999999999999999999999'].map(atoi),
      [12, -3, 0, 0, 5, 9, 1215752191, -1215752191, -1]);
  });

  it('root statements: database first wins, tempdir last wins, ignore accumulates, lock-timeout unsigned', () => {
    const base = 'group g { host h1; key csync2.key; }\n';
    let cfg = load(base);
    assert.deepEqual([cfg.database, cfg.tempdir, cfg.lockTimeout, cfg.ignoreUid, cfg.ignoreGid, cfg.ignoreMod], [null, null, 12, false, false, false]);
    cfg = load(base + 'database /a.db; database /b.db; tempdir /t1; tempdir /t2; ignore uid; ignore mod; lock-timeout 30;');
    assert.deepEqual([cfg.database, cfg.tempdir, cfg.lockTimeout, cfg.ignoreUid, cfg.ignoreGid, cfg.ignoreMod], ['/a.db', '/t2', 30, true, false, true]);
    cfg = load(base + 'lock-timeout -1;');
    assert.equal(cfg.lockTimeout, 4294967295);
  });

  it('nossl entries and prefixes are reversed; a prefix takes its first matching entry', () => {
    const cfg = load(`group g { host h1; key csync2.key; }
      nossl a b; nossl c d;
      prefix p1 { on x*: /x; on h?: /first//; on *: /second; }
      prefix p2 { on other: /o; }
      prefix p3 { on *: /; }`);
    assert.deepEqual(cfg.nossl, [{ from: 'c', to: 'd' }, { from: 'a', to: 'b' }]);
    assert.deepEqual(cfg.prefixes, [{ name: 'p3', path: '/' }, { name: 'p2', path: null }, { name: 'p1', path: '/first' }]);
  });

  it('prints the Prefix debug line at level 2', () => {
    const out = join(sb.root, 'log.txt');
    const fd = openSync(out, 'w');
    const saved = { level: log.level, fd: log.fd };
    log.level = 2;
    log.fd = fd;
    try {
      load('group g { host h1; key csync2.key; } prefix data { on h1: /srv/data/; }');
    } finally {
      log.level = saved.level;
      log.fd = saved.fd;
      closeSync(fd);
    }
    assert.equal(readFileSync(out, 'latin1'), "Prefix 'data' is set to '/srv/data'.\n");
  });

  it('-G disables listed groups not named; unlisted groups stay inactive', () => {
    const text = `group a { host h1 p1; key csync2.key; }
      group b { host h1 p2; key csync2.key; }
      group c { host x y; key csync2.key; }`;
    let cfg = load(text, 'h1', { groupList: 'b,c' });
    assert.deepEqual(cfg.groups.map((g) => [g.name, g.active, g.myname]), [['c', false, null], ['b', true, 'h1'], ['a', false, 'h1']]);
    assert.equal(hasActiveGroup(cfg), true);
    cfg = load(text, 'h1', { groupList: 'c' });
    assert.equal(hasActiveGroup(cfg), false);
    cfg = load(text, 'h1', { groupList: '' });
    assert.equal(hasActiveGroup(cfg), false);
    cfg = load(text);
    assert.deepEqual(cfg.groups.map((g) => g.active), [false, true, true]);
  });

  it('-P: a group has active peers iff a peer name equals an item exactly', () => {
    const text = `group a { host h1 p1 (p3@if3); key csync2.key; }
      group b { host h1 P2; key csync2.key; }`;
    let cfg = load(text, 'h1', { peerList: ',if3,,zz' });
    assert.deepEqual(cfg.groups.map((g) => [g.name, g.hasActivePeers]), [['b', false], ['a', true]]);
    cfg = load(text, 'h1', { peerList: 'P2' }); // names are lower-cased, -P is not
    assert.deepEqual(cfg.groups.map((g) => g.hasActivePeers), [false, false]);
    cfg = load(text, 'h1', { peerList: 'p2,p3' }); // p3's name is its interface
    assert.deepEqual(cfg.groups.map((g) => g.hasActivePeers), [true, false]);
    cfg = load(text);
    assert.deepEqual(cfg.groups.map((g) => g.hasActivePeers), [true, true]);
  });

  it('GROUP command: only the first group of the run-time list can be disabled (csync2 bug)', () => {
    const text = `group a { host h1 p; key csync2.key; }
      group b { host h1 p; key csync2.key; }
      group c { host h1 p; key csync2.key; }`;
    let cfg = load(text);
    disableGroupsForGroupCommand(cfg, 'a');
    assert.deepEqual(cfg.groups.map((g) => [g.name, g.active]), [['c', false], ['b', true], ['a', true]]);
    cfg = load(text);
    disableGroupsForGroupCommand(cfg, 'x,c');
    assert.deepEqual(cfg.groups.map((g) => g.active), [true, true, true]);
    cfg = load(text.replace('group c { host h1 p;', 'group c { host q p;'));
    disableGroupsForGroupCommand(cfg, 'a');
    assert.deepEqual(cfg.groups.map((g) => g.active), [false, true, true]);
  });

  it('ConfigError carries file, line, column and a detail naming them', () => {
    writeConfig(sb, 'group g {\n  host h1;\n  auto sometimes;\n  key csync2.key;\n}\n');
    const r = loadOurs(sb, 'h1');
    assert.ok(r.error instanceof ConfigError);
    const e = r.error as ConfigError;
    assert.deepEqual([e.file, e.line, e.column], [join(sb.sys, 'csync2.cfg'), 3, 8]);
    assert.equal(e.detail, `${join(sb.sys, 'csync2.cfg')}:3:8: 'sometimes' is not an auto method (none, first, younger, older, bigger, smaller, left, right)`);
  });
});

describe('prefixes', () => {
  const text = `group g { host h1; key csync2.key; }
    prefix a { on h1: /srv; }
    prefix b { on h1: /srv/data; }
    prefix none { on other: /x; }`;

  it('prefixEncode: reverse declaration order, first hit wins, only whole path components', () => {
    const cfg = load(text);
    assert.equal(prefixEncode(cfg, '/srv/data/x'), '%b%/x');
    assert.equal(prefixEncode(cfg, '/srv/data'), '%b%');
    assert.equal(prefixEncode(cfg, '/srv/database'), '%a%/database');
    assert.equal(prefixEncode(cfg, '/srv'), '%a%');
    assert.equal(prefixEncode(cfg, '/srvx'), '/srvx');
    assert.equal(prefixEncode(cfg, 'relative/srv'), 'relative/srv');
  });

  it('prefixSubst: %name%rest -> path + rest; other names unchanged; unknown prefix is fatal', () => {
    const cfg = load(text);
    assert.equal(prefixSubst(cfg, '%b%/x y'), '/srv/data/x y');
    assert.equal(prefixSubst(cfg, '%a%'), '/srv');
    assert.equal(prefixSubst(cfg, '%a'), '/srv'); // no closing %: the rest is the name
    assert.equal(prefixSubst(cfg, '/plain/%a%'), '/plain/%a%');
    assert.throws(() => prefixSubst(cfg, '%none%/x'), (e: unknown) => e instanceof FatalError && e.message === "Prefix 'none' is not defined for host 'h1'.");
    assert.throws(() => prefixSubst(cfg, '%zz%'), /Prefix 'zz' is not defined for host 'h1'\./);
  });
});
