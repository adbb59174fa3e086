/**
 * Mutated configs: our loader must always end in a clean csync2 error (a
 * typed CsyncError with csync2's first line and, for syntax errors, a
 * `file:line:col:` detail), never a stack trace. Each mutant is also given to
 * the real csync2 (`-L`), and the first stderr line must be the same: the
 * mutants explore corners of the grammar that hand-written cases miss.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasActiveGroup } from '../../src/config/load.js';
import { SCANNER_READ_FAILED } from '../../src/config/flex.js';
import { loadOurs, runReal, sandbox, writeConfig } from '../config/real-csync2.js';
import { Rng, SEED, scale } from './scale.js';

/** Valid configs that use every part of the grammar (no `database`: a mutant could point it anywhere). */
const SEEDS = [
  `# seed 1
group alpha
{
\thost h1 h2 (h3);
\thost h4@h4-eth2;
\tkey csync2.key;
\tinclude /etc/apache;
\tinclude %homedir%/bob;
\texclude %homedir%/bob/temp;
\texclude *~ .*;
\tcompare /etc/cmp1 /etc/cmp2;
\taction
\t{
\t\tpattern /etc/apache/httpd.conf;
\t\tpattern /etc/apache/sites-available/*;
\t\texec "/usr/sbin/apache2ctl graceful";
\t\tlogfile "/tmp/csync2_action.log";
\t\tdo-local;
\t}
\tbackup-directory /tmp/backups;
\tbackup-generations 3;
\tauto none;
}

prefix homedir
{
\ton h[12]: /export/users;
\ton *:        /home;
}
nossl * *;
ignore uid gid;
lock-timeout 20;
tempdir /tmp;
`,
  `group { host h1 (h2@x h5) h6; key "csync2.key"; include "/a b" /c; auto younger; }
group g2 { host h7 h1@me; key sub.key; exclude /a/**/b; action { exec x; do-local-only; } auto left; }
prefix p { on h1: /p1; on h2: /p2/; }
ignore mod;
`,
  `config inc.cfg;
group g3 { host h1 h2; key csync2.key; config body.cfg; auto bigger; }
`,
];

/** Extra files the seeds name (relative to cwd; `sys:` = system dir). */
const FILES: Record<string, string> = {
  'sys:sub.key': 'SubKeySubKeySubKeySubKeySubKeySubKey.0123\n',
  'inc.cfg': 'group inc { host h1 h9; key csync2.key; include /inc; }\n',
  'body.cfg': 'include /body; exclude *.tmp;\n',
};

const VOCAB = [
  '{', '}', '(', ')', ';', ':', '@', '"', '#', '\n', '""', '"q w"', 'group', 'host', 'key', 'include', 'exclude',
  'compare', 'auto', 'action', 'pattern', 'exec', 'logfile', 'do-local', 'do-local-only', 'prefix', 'on', 'nossl',
  'ignore', 'uid', 'gid', 'mod', 'lock-timeout', 'tempdir', 'backup-directory', 'backup-generations',
  'no-cygwin-lowercase', 'config', 'inc.cfg', 'missing.cfg', 'csync2.key', 'nokey', 'h1', 'h2', 'H1', 'none',
  'first', 'younger', 'older', 'smaller', 'right', 'bogus', '/abs', 'rel', '%homedir%/x', '*', '**', 'x:', 'a:b',
  '-1', '99999999999999999999', '\t', '\r', '\xe9', '\x00', '\\',
];

/** Tokens with the blanks between them kept, so a mutant is still mostly readable. */
function tokenize(text: string): string[] {
  return text.match(/"[^"]*"|#[^\n]*|[{}();@]|\s+|[^\s{}();@"#]+|./gs) ?? [];
}

function mutate(text: string, rng: Rng): string {
  let toks = tokenize(text);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const i = rng.int(Math.max(1, toks.length));
    switch (rng.int(7)) {
      case 0: toks.splice(i, 1); break;
      case 1: toks.splice(i, 0, toks[i] ?? ''); break;
      case 2: toks.splice(i, 0, ' ', rng.pick(VOCAB), ' '); break;
      case 3: toks[i] = rng.pick(VOCAB); break;
      case 4: toks = toks.slice(0, i); break;
      case 5: if (i + 1 < toks.length) [toks[i], toks[i + 1]] = [toks[i + 1]!, toks[i]!]; break;
      default: {
        const s = toks.join('');
        const at = rng.int(s.length + 1);
        toks = tokenize(s.slice(0, at) + String.fromCharCode(rng.int(256)) + s.slice(at));
      }
    }
  }
  return toks.join('');
}

describe('mutated configs give a clean config error, like the real csync2', () => {
  const trials = scale(300, 5000);
  it(`${trials} mutants (seed ${SEED})`, () => {
    const rng = new Rng(SEED);
    const sb = sandbox();
    let errors = 0;
    let realCrashes = 0;
    try {
      for (const [name, text] of Object.entries(FILES)) {
        writeFileSync(name.startsWith('sys:') ? join(sb.sys, name.slice(4)) : join(sb.cwd, name), text);
      }
      for (let t = 0; t < trials; t++) {
        const cfg = mutate(SEEDS[t % SEEDS.length]!, rng);
        writeConfig(sb, cfg);
        const where = `seed ${SEED}, trial ${t}, config:\n${JSON.stringify(cfg)}`;
        let ours;
        try {
          ours = loadOurs(sb, 'h1');
        } catch (err) {
          assert.fail(`loadConfig threw a non-csync2 error (${String(err)}) for ${where}`);
        }
        // What the CLI prints first: the message up to its first newline (a key name may hold one).
        const first = ours.cfg ? (hasActiveGroup(ours.cfg) ? '' : 'This host (h1) is not a member of any configured group.')
          : ours.first.split('\n')[0]!;
        if (first !== '') errors++;
        assert.doesNotMatch(first, /\bat \S+:\d+:\d+\)|TypeError|undefined|\[object /, where);
        if (ours.first.startsWith('Near line')) assert.match(ours.detail ?? '', /^[^\n]+:\d+:\d+: \S/, where);
        const real = runReal(sb, 'h1', ['-L']);
        if (real.status === null || real.status > 2) {
          realCrashes++; // the real csync2 died of a signal: nothing to compare with
          continue;
        }
        assert.equal(first, real.first, `first stderr line differs from the real csync2 for ${where}\nreal: ${real.stderr}`);
        // The exit code our CLI gives for this error (cli/run.ts): flex's read failure exits 2, as flex does.
        if (first !== '') assert.equal(real.status, first === SCANNER_READ_FAILED ? 2 : 1, where);
      }
    } finally {
      sb.cleanup();
    }
    // A mutator that never breaks anything would prove nothing.
    assert.ok(errors > trials / 4, `only ${errors} of ${trials} mutants were errors`);
    assert.ok(realCrashes < trials / 10, `the real csync2 crashed on ${realCrashes} mutants`);
  });
});
