/**
 * fnmatch() against the real glibc fnmatch (C locale) on many random and
 * hand-picked patterns, for every flag combination csync2 uses.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileFnmatch, fnmatch } from '../../src/config/fnmatch.js';
import { FNM_LEADING_DIR, FNM_PATHNAME, glibcFnmatch, type OracleCase } from './glibc-oracle.js';

const FLAG_SETS = [0, FNM_PATHNAME, FNM_LEADING_DIR, FNM_PATHNAME | FNM_LEADING_DIR];

function ours(c: OracleCase): boolean {
  return fnmatch(c.pattern, c.str, { pathname: (c.flags & FNM_PATHNAME) !== 0, leadingDir: (c.flags & FNM_LEADING_DIR) !== 0 });
}

function mismatches(cases: OracleCase[]): string[] {
  const want = glibcFnmatch(cases);
  const bad: string[] = [];
  cases.forEach((c, i) => {
    if (ours(c) !== want[i]) bad.push(`${JSON.stringify(c)}: glibc ${want[i]}`);
  });
  return bad;
}

/** Deterministic PRNG (so a failure can be reproduced). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

function randomCases(seed: number, count: number, patternAtoms: string[], stringAtoms: string[], maxAtoms: number): OracleCase[] {
  const rnd = prng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
  const cases: OracleCase[] = [];
  for (let k = 0; k < count; k++) {
    let pattern = '';
    for (let j = 1 + Math.floor(rnd() * maxAtoms); j > 0; j--) pattern += pick(patternAtoms);
    let str = '';
    for (let j = Math.floor(rnd() * maxAtoms); j > 0; j--) str += pick(stringAtoms);
    cases.push({ pattern, str, flags: pick(FLAG_SETS) });
  }
  return cases;
}

const STRING_ATOMS = ['a', 'b', 'z', '/', '[', ']', '-', '\\', '!', '.', ':', '=', '\x80', '\xe9', '\xff', 'A', '0', ' ', '^', '%'];

describe('fnmatch agrees with glibc', () => {
  it('random paths and wildcards', () => {
    const atoms = ['a', 'b', '/', '*', '?', '**', '.', '%', 'A', '\xe9', '\\*', '\\/', '\\'];
    const bad = mismatches(randomCases(1, 10000, atoms, STRING_ATOMS, 8));
    assert.deepEqual(bad.slice(0, 10), []);
  });

  it('random bracket expressions (classes, ranges, negation, escapes, unterminated)', () => {
    const atoms = ['[', '[', '[!', '[^', ']', '-', 'a-', 'a', 'z', '/', '*', '?', '\\', '\\]', ':', '.', '=',
      '[:alpha:]', '[:digit:]', '[:punct:]', '[:foo:]', '[:alpha:', '[=a=]', '[=]=]', '[.a.]', '[.-.]', '[.ab.]', '[[',
      '\x80', '\xff', '\x80-\xff', 'A', '0', ' '];
    const bad = mismatches(randomCases(2, 12000, atoms, STRING_ATOMS, 10));
    assert.deepEqual(bad.slice(0, 10), []);
  });

  it('hand-picked cases', () => {
    const patterns = [
      '*', '**', '*.txt', '.*', '*~', 'a*', '*a*', '/etc/*', '/etc/**', '/etc/*/x', '/etc/**/x', '/etc', '/etc/', '%p%/x',
      '[abc]', '[!abc]', '[^abc]', '[]a]', '[!]a]', '[a-]', '[-a]', '[z-a]', '[\x80-\xff]', '[[:alpha:]]', '[[:upper:][:digit:]]',
      '[[:space:]]', '[[:cntrl:]]', '[[:print:]]', '[[:graph:]]', '[[:xdigit:]]', '[[:blank:]]', '[[:lower:]]', '[[:alnum:]]',
      '[[:punct:]]', '[[:alpha:]-z]', '[a-[:alpha:]]', '[[.a.]-z]', '[[.a.]-]', '[a-[.z.]]', '[[=a=]b]', '[\\]]', '[a\\-z]',
      '[ab', 'x[ab', '[[a', '[a[:foo:]]', '[!a[:foo:]]', '\\', 'a\\', '\\a', '*\\/x', 'a\\/x', '*\\', '[/]', '[!/]', '[a/b]',
      '?', '??', '*?', '?*', 'a?c', '/a?c', '[[:alpha:', '[[:a]:]]', '[!]', '[]', '[\\', '[a-\\', '[a-\\z]',
    ];
    const strings = ['', 'a', 'b', 'abc', '.x', 'x~', 'a.txt', '/etc', '/etc/', '/etc/x', '/etc/a/x', '/etc/a/b/x', '%p%/x/y',
      ']', '-', '[', '\\', 'A', '5', ' ', '\t', '\x01', '\x7f', '\x80', '\xe9', '\xff', '/', 'a/b', '[ab', 'x[ab', '[[a', '*/x', 'a/x', '!'];
    const cases: OracleCase[] = [];
    for (const pattern of patterns) for (const str of strings) for (const flags of FLAG_SETS) cases.push({ pattern, str, flags });
    assert.deepEqual(mismatches(cases).slice(0, 10), []);
  });

  it('character class names up to and beyond 2048 bytes', () => {
    const cases: OracleCase[] = [];
    for (const n of [2046, 2047, 2048, 2049]) {
      const name = 'a'.repeat(n);
      for (const pattern of [`[[:${name}:]]`, `[x[:${name}:]]`, `[x[:${name}]`]) {
        for (const str of ['x', 'a', '[', ':']) cases.push({ pattern, str, flags: 0 });
      }
    }
    assert.deepEqual(mismatches(cases), []);
  });
});

describe('fnmatch API', () => {
  it('compiled matchers are cached per pattern and flags', () => {
    const a = compileFnmatch('/etc/*', { pathname: true, leadingDir: true });
    assert.equal(compileFnmatch('/etc/*', { pathname: true, leadingDir: true }), a);
    assert.notEqual(compileFnmatch('/etc/*', { pathname: true }), a);
    assert.equal(a('/etc/x/y'), true);
    assert.equal(compileFnmatch('/etc/*', { pathname: true })('/etc/x/y'), false);
  });

  it('csync2 pattern semantics: * does not cross / in pathname patterns, ** does, basename * matches dots', () => {
    const pathPattern = (p: string, s: string): boolean => fnmatch(p, s, { pathname: !p.includes('**'), leadingDir: true });
    assert.equal(pathPattern('/srv/*/conf', '/srv/a/conf'), true);
    assert.equal(pathPattern('/srv/*/conf', '/srv/a/b/conf'), false);
    assert.equal(pathPattern('/srv/**/conf', '/srv/a/b/conf'), true);
    assert.equal(pathPattern('/srv/**/conf', '/srv/a/b/conf/deeper'), true);
    // With ** every single * crosses / as well.
    assert.equal(pathPattern('/srv/*/x**', '/srv/a/b/x'), true);
    assert.equal(pathPattern('/etc/apache', '/etc/apache2'), false);
    assert.equal(pathPattern('/etc/apache', '/etc/apache/sites/x'), true);
    assert.equal(fnmatch('.*', '.bashrc'), true);
    assert.equal(fnmatch('*', '.hidden'), true);
  });
});
