/**
 * Every config message of config.md §6 and every syntax quirk of §2, compared
 * with the real csync2: its first stderr line and exit status against
 * loadConfig() (+ hasActiveGroup, which the CLI checks after loading).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasActiveGroup } from '../../src/config/load.js';
import { prefixSubst } from '../../src/config/prefix.js';
import { FatalError } from '../../src/util/errors.js';
import { KEY, loadOurs, runReal, sandbox, writeConfig, type Sandbox } from './real-csync2.js';
import { spawnSync } from 'node:child_process';

interface Case {
  name: string;
  cfg: string;
  /** Extra files: relative names go to the working directory, `sys:` names to the system dir. */
  files?: Record<string, string>;
  /** Directories to create (same naming). */
  dirs?: string[];
  args?: string[];
  /** Our expected first line, when we also want to pin it (not only compare). */
  expect?: string;
  /** Expected `file:line:col` prefix of our detail line (file relative to the sandbox where it is ours). */
  detailAt?: RegExp;
}

const G = 'group g { host h1 h2; key csync2.key; include /tmp/none; }\n';

const CASES: Case[] = [
  { name: 'valid config', cfg: G, expect: '' },
  { name: 'keywords are lower-case only', cfg: 'GROUP g { host h1; key csync2.key; }', expect: 'Near line 1: syntax error' },
  { name: 'error at EOF after a final newline counts the next line', cfg: 'group g {\n host h1;\n key csync2.key;\n', expect: 'Near line 4: syntax error' },
  { name: 'error in the middle', cfg: 'group g {\n host h1;\n key csync2.key\n include /x;\n}\n', expect: 'Near line 4: syntax error', detailAt: /csync2\.cfg:4:2: expected ';' after the key file name/ },
  { name: 'CR is a blank but not a line break', cfg: 'group g {\r host h1;\r key csync2.key\r include /x;\r}\r', expect: 'Near line 1: syntax error' },
  { name: 'group g{ makes g{ one word', cfg: 'group g{ host h1; key csync2.key; }', expect: 'Near line 1: syntax error' },
  { name: '{host is one word', cfg: 'group g {host h1; key csync2.key; }', expect: 'Near line 1: syntax error' },
  { name: 'include /x} swallows the brace', cfg: 'group g { host h1; key csync2.key; include /x}\n', expect: 'Near line 2: syntax error' },
  { name: 'on host:/path is one word', cfg: G + 'prefix p { on h1:/p; }', expect: 'Near line 2: syntax error' },
  { name: 'a colon ends a word only as its last character', cfg: G + 'prefix p { on a:b: /p; }', expect: '' },
  { name: 'a word may start with a colon', cfg: G + 'prefix p { on h1 :/p; }', expect: 'Near line 2: syntax error' },
  { name: 'a host called on must be quoted (unquoted)', cfg: 'group g { host h1 on; key csync2.key; }', expect: 'Near line 1: syntax error' },
  { name: 'a host called on must be quoted (quoted)', cfg: 'group g { host h1 "on" "group"; key csync2.key; }', expect: '' },
  { name: 'keyword prefix makes a word (hosts, keyfile)', cfg: 'group g { host h1 hosts keyfile configure; key csync2.key; }', expect: '' },
  { name: 'empty quotes produce no token', cfg: 'group g { host h1 "" h2; key csync2.key; }', expect: '' },
  { name: 'empty quotes cannot be a key name', cfg: 'group g { host h1; key ""; }', expect: 'Near line 1: syntax error' },
  { name: '# ends an unquoted word and starts a comment', cfg: 'group g { host h1; key csync2.key#comment\n; }', expect: '' },
  { name: '# inside quotes is literal', cfg: 'group g { host h1; key csync2.key; include "/a#b;c" "multi\nline"; }', expect: '' },
  { name: 'unterminated quote runs to EOF', cfg: 'group g { host h1; key csync2.key; include "/a;\n}\n', expect: 'Near line 3: syntax error' },
  { name: 'empty lists are legal', cfg: 'group g { host; host h1; include; exclude; compare; key csync2.key; }', expect: '' },
  { name: 'missing ; after the include list', cfg: 'group g { host h1; key csync2.key; include /x }', expect: 'Near line 1: syntax error', detailAt: /csync2\.cfg:1:47: expected ';' after the include list, found '}'/ },
  { name: 'group statement at root level', cfg: G + 'include /x;', expect: 'Near line 2: syntax error' },
  { name: 'root statement inside a group', cfg: 'group g { host h1; key csync2.key; nossl * *; }', expect: 'Near line 1: syntax error' },
  { name: 'no ; after an action block', cfg: 'group g { host h1; key csync2.key; action { exec "x"; }; }', expect: 'Near line 1: syntax error' },
  { name: 'action statements need their ;', cfg: 'group g { host h1; key csync2.key; action { exec x } }', expect: 'Near line 1: syntax error' },
  { name: 'a full action block', cfg: 'group g { host h1; key csync2.key; action { pattern /a /b; exec "c 1" c2; logfile /l; do-local; do-local-only; } }', expect: '' },
  { name: 'slave hosts and interfaces', cfg: 'group g { host h1@if1 (h2 h3@x) h4 () (h5); key csync2.key; }', expect: '' },
  { name: 'nested parentheses are a syntax error', cfg: 'group g { host h1 (h2 (h3)); key csync2.key; }', expect: 'Near line 1: syntax error' },
  { name: 'all root statements', cfg: G + 'nossl * *; database /tmp/x.db; tempdir /tmp; ignore uid gid mod; lock-timeout 30; prefix p { on h*: /a/; on *: /b; }', expect: '' },
  { name: 'nossl needs two words', cfg: G + 'nossl *;', expect: 'Near line 2: syntax error' },

  // config FILE; includes
  { name: 'include is relative to the working directory', cfg: 'config inc.cfg;\n', files: { 'inc.cfg': G }, expect: '' },
  { name: 'include is not relative to the system dir', cfg: 'config inc.cfg;\n', files: { 'sys:inc.cfg': G }, expect: "Can't open included config file 'inc.cfg'.", detailAt: /csync2\.cfg:1:8: cannot open 'inc\.cfg'/ },
  { name: 'include inside a group body', cfg: 'group g {\nconfig body.cfg;\n}\n', files: { 'body.cfg': 'host h1; key csync2.key;\n' }, expect: '' },
  { name: 'config a b; includes both', cfg: 'config a.cfg b.cfg;\n', files: { 'a.cfg': 'group g { host h1;', 'b.cfg': ' key csync2.key; }' }, expect: '' },
  { name: 'config a b; second missing', cfg: 'config a.cfg b.cfg;\n', files: { 'a.cfg': G }, expect: "Can't open included config file 'b.cfg'." },
  { name: 'quotes are not removed from include names', cfg: 'config "a.cfg";\n', files: { 'a.cfg': G }, expect: 'Can\'t open included config file \'"a.cfg"\'.' },
  { name: 'lines of included files count in Near line', cfg: '# c\nconfig inc.cfg;\n key csync2.key;\n include /x\n}\n', files: { 'inc.cfg': '\n\n\ngroup g {\n host h1;\n' }, expect: 'Near line 10: syntax error', detailAt: /csync2\.cfg:5:1: expected ';' after the include list/ },
  { name: 'syntax error inside an included file names that file', cfg: 'group g { host h1;\nconfig inc.cfg;\n}\n', files: { 'inc.cfg': '\nkey csync2.key\n}' }, expect: 'Near line 4: syntax error', detailAt: /^inc\.cfg:3:1: expected ';'/ },
  { name: 'a line break after config is not counted', cfg: G + 'config\ninc.cfg;\n', files: { 'inc.cfg': '\n\ngroup {' }, expect: 'Near line 5: syntax error' },
  { name: 'includes nest 10 deep', cfg: 'config i1.cfg;\n', files: nested(10), expect: '' },
  { name: 'includes nested 11 deep', cfg: 'config i1.cfg;\n', files: nested(11), expect: 'Config includes nested too deeply.', detailAt: /^i10\.cfg:1:8: / },
  { name: 'an include that is a directory', cfg: 'config adir;\n', dirs: ['adir'], expect: 'input in flex scanner failed' },
  { name: 'include failure is seen before the ignore words are checked', cfg: 'ignore foo config missing.cfg;\n', expect: "Can't open included config file 'missing.cfg'." },

  // key
  { name: 'a group might only have one key', cfg: 'group g { host h1; key csync2.key; key csync2.key; }', expect: 'Config error: a group might only have one key.' },
  { name: 'the second key is refused before its file is read', cfg: 'group g { key csync2.key; key "/nonexist" }', expect: 'Config error: a group might only have one key.' },
  { name: 'missing key file', cfg: 'group g { host h1; key nokey; }', expect: 'Config error: Can\'t read keyfile SYS/nokey.' },
  { name: 'key is checked before the ; is seen', cfg: 'group g { host h1; key nokey }', expect: 'Config error: Can\'t read keyfile SYS/nokey.' },
  { name: 'empty key file', cfg: 'group g { host h1; key empty.key; }', files: { 'sys:empty.key': '' }, expect: 'Config error: Can\'t read keyfile SYS/empty.key.' },
  { name: 'key file is a directory', cfg: 'group g { host h1; key kdir; }', dirs: ['sys:kdir'], expect: 'Config error: Can\'t read keyfile SYS/kdir.' },
  { name: 'absolute key path', cfg: 'group g { host h1; key SYS/csync2.key; }', expect: '' },
  { name: 'unallowed character in key', cfg: 'group g { host h1; key bad.key; }', files: { 'sys:bad.key': KEY + '-x\n' }, expect: 'Unallowed character \'-\' in key file SYS/bad.key.' },
  { name: 'CR in key file is unallowed', cfg: 'group g { host h1; key cr.key; }', files: { 'sys:cr.key': KEY + '\r\n' }, expect: 'Unallowed character \'\r\' in key file SYS/cr.key.' },
  { name: 'key byte >= 0x80', cfg: 'group g { host h1; key hi.key; }', files: { 'sys:hi.key': KEY + '\xe9\n' }, expect: 'Unallowed character \'\xe9\' in key file SYS/hi.key.' },
  { name: 'only the first line of the key file counts', cfg: 'group g { host h1; key two.key; }', files: { 'sys:two.key': KEY + '\n!!! second line\n' }, expect: '' },
  { name: 'key without final newline', cfg: 'group g { host h1; key nonl.key; }', files: { 'sys:nonl.key': KEY }, expect: '' },
  { name: 'key of 31 characters is too short', cfg: 'group g { host h1; key short.key; }', files: { 'sys:short.key': 'a'.repeat(31) + '\n' }, expect: 'Config error: Key in file SYS/short.key is too short.' },
  { name: 'key of 32 characters is enough', cfg: 'group g { host h1; key k32.key; }', files: { 'sys:k32.key': 'a'.repeat(32) + '\n' }, expect: '' },
  { name: 'NUL ends the key', cfg: 'group g { host h1; key nul.key; }', files: { 'sys:nul.key': 'a'.repeat(20) + '\0' + 'b'.repeat(20) + '\n' }, expect: 'Config error: Key in file SYS/nul.key is too short.' },
  { name: 'long key line is cut at 1023 bytes', cfg: 'group g { host h1; key long.key; }', files: { 'sys:long.key': 'a'.repeat(1023) + '!\n' }, expect: '' },

  // auto
  { name: 'a group might only have one auto-setting', cfg: 'group g { host h1; key csync2.key; auto none; auto younger; }', expect: 'Config error: a group might only have one auto-setting.' },
  { name: 'unknown auto-setting', cfg: 'group g { host h1; key csync2.key; auto First; }', expect: "Config error: Unknown auto-setting 'First' (use 'none', 'younger', 'older', 'bigger', 'smaller', 'left' or 'right')." },
  { name: 'auto first is accepted', cfg: 'group g { host h1; key csync2.key; auto first; }', expect: '' },
  { name: 'auto is checked before the ; is seen', cfg: 'group g { host h1; key csync2.key; auto foo }', expect: "Config error: Unknown auto-setting 'foo' (use 'none', 'younger', 'older', 'bigger', 'smaller', 'left' or 'right')." },

  { name: 'every group must have a key', cfg: 'group g { host h1; }', expect: 'Config error: every group must have a key.' },
  { name: 'an inactive group needs a key too', cfg: G + 'group other { host x y; }', expect: 'Config error: every group must have a key.' },
  { name: 'prefix path of another host must be absolute too', cfg: G + 'prefix p { on h1: /ok; on other: rel; }', expect: "Config error: Prefix 'rel' is not an absolute path." },
  { name: "unknown 'ignore' property", cfg: G + 'ignore uid foo;', expect: "Config error: Unknown 'ignore' porperty: 'foo'." },
  { name: 'ignore words are checked last first', cfg: G + 'ignore foo bar;', expect: "Config error: Unknown 'ignore' porperty: 'bar'." },
  { name: 'ignore words are checked even before a syntax error', cfg: G + 'ignore foo bar }', expect: "Config error: Unknown 'ignore' porperty: 'bar'." },
  { name: 'no-cygwin-lowercase', cfg: G + 'no-cygwin-lowercase;', expect: "Config error: Found 'nocygwinlowercase' but this is not a cygwin csync2." },

  // membership (checked by the CLI after loading)
  { name: 'not a member', cfg: 'group g { host h2 h3; key csync2.key; }', expect: 'This host (h1) is not a member of any configured group.' },
  { name: 'host names are lower-cased', cfg: 'group g { host H1 h2; key csync2.key; }', expect: '' },
  { name: 'the iface part does not make a member', cfg: 'group g { host x@h1 h2; key csync2.key; }', expect: 'This host (h1) is not a member of any configured group.' },
  { name: '-G removes every group', cfg: G, args: ['-G', 'other'], expect: 'This host (h1) is not a member of any configured group.' },
  { name: '-G keeps a named group', cfg: G, args: ['-G', 'x,g'], expect: '' },
  { name: '-G item must match the whole name', cfg: G, args: ['-G', 'gg,x'], expect: 'This host (h1) is not a member of any configured group.' },
  { name: '-G names unnamed groups group_N', cfg: 'group { host h2; key csync2.key; } group { host h1; key csync2.key; }', args: ['-G', 'group_2'], expect: '' },
  { name: '-G with the other unnamed group', cfg: 'group { host h2; key csync2.key; } group { host h1; key csync2.key; }', args: ['-G', 'group_1'], expect: 'This host (h1) is not a member of any configured group.' },
];

function nested(depth: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= depth; i++) files[`i${i}.cfg`] = i < depth ? `config i${i + 1}.cfg;\n` : G;
  return files;
}

function place(sb: Sandbox, name: string): string {
  return name.startsWith('sys:') ? join(sb.sys, name.slice(4)) : join(sb.cwd, name);
}

function ourFirst(sb: Sandbox, args: string[]): { first: string; detail?: string } {
  const gi = args.indexOf('-G');
  const r = loadOurs(sb, 'h1', { groupList: gi >= 0 ? args[gi + 1]! : null });
  if (!r.cfg) return { first: r.first, detail: r.detail };
  return { first: hasActiveGroup(r.cfg) ? '' : 'This host (h1) is not a member of any configured group.' };
}

describe('config messages match the real csync2', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const sb = sandbox();
      try {
        const sys = (s: string): string => s.replaceAll('SYS', sb.sys);
        for (const d of c.dirs ?? []) mkdirSync(place(sb, d));
        for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(place(sb, name), Buffer.from(text, 'latin1'));
        writeConfig(sb, sys(c.cfg));
        const real = runReal(sb, 'h1', [...(c.args ?? []), '-L']);
        const ours = ourFirst(sb, c.args ?? []);
        assert.equal(ours.first, real.first, `ours: ${ours.first} / ${ours.detail ?? ''}`);
        if (real.first !== '') assert.notEqual(real.status, 0);
        if (c.expect !== undefined) assert.equal(ours.first, sys(c.expect));
        if (c.detailAt) assert.match(ours.detail ?? '', c.detailAt);
        if (ours.first !== '' && ours.detail !== undefined) assert.match(ours.detail, /^[^:]+:\d+:\d+: ./);
      } finally {
        sb.cleanup();
      }
    });
  }

  it('Can not open config file', () => {
    const sb = sandbox();
    try {
      const real = runReal(sb, 'h1', ['-L']);
      const ours = loadOurs(sb, 'h1');
      assert.ok(ours.error instanceof FatalError);
      assert.equal(ours.first, real.first);
      assert.equal(ours.first, `Can not open config file \`${join(sb.sys, 'csync2.cfg')}': No such file or directory`);
      assert.equal(real.status, 1);
    } finally {
      sb.cleanup();
    }
  });

  it("Prefix '<name>' is not defined for host '<host>'", () => {
    const sb = sandbox();
    try {
      // csync2 reaches prefixsubst() for a DB row of an undefined prefix during `-c -r /`.
      writeConfig(sb, 'group g { host h1 h2; key csync2.key; include %q%/x; }\nprefix q { on other: /tmp/q; }\n');
      runReal(sb, 'h1', ['-L']);
      const sql = spawnSync('sqlite3', [join(sb.db, 'h1.db3'), "INSERT INTO file (filename, checktxt) VALUES ('%25q%25/x', 'v1')"]);
      assert.equal(sql.status, 0, sql.stderr.toString());
      const real = runReal(sb, 'h1', ['-c', '-r', '/']);
      const cfg = loadOurs(sb, 'h1').cfg!;
      assert.throws(() => prefixSubst(cfg, '%q%/x'), (e: unknown) => e instanceof FatalError && e.message === real.first);
      assert.equal(real.first, "Prefix 'q' is not defined for host 'h1'.");
      assert.equal(real.status, 1);
    } finally {
      sb.cleanup();
    }
  });
});
