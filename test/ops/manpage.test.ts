/**
 * The man pages: they render without groff/man warnings, and csync2(1) documents every option of the
 * help text (src/cli/help.ts) as a tagged paragraph in OPTIONS, plus the sections an admin looks for.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { helpText } from '../../src/cli/help.js';
import { CERT_MAN_PAGE, MAN_PAGE, ensureManTools, plainText } from './files.js';

/** csync2's getopt string (spec cli.md §1): every letter the command line knows, plus `-k`. */
const GETOPT = 'W:s:Ftp:G:P:C:D:N:HBAIXULlSTMRvhcuoimfxrd';

function render(page: string): { code: number | null; text: string; warnings: string } {
  const r = spawnSync('man', ['--warnings', '-l', page], {
    encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LC_ALL: 'C.UTF-8' },
  });
  return { code: r.status, text: plainText(r.stdout), warnings: r.stderr };
}

let page: ReturnType<typeof render>;

before(() => {
  ensureManTools();
  page = render(MAN_PAGE);
});

/** Option letters the help text shows: `-x`, `-TT`, `-iii`, `[-v..]`, `-TI` ... split into letters. */
function helpLetters(): Set<string> {
  const letters = new Set<string>();
  for (const m of helpText().matchAll(/(?:^|[\s[])-([A-Za-z]+)\b/gm)) {
    for (const l of m[1]!) letters.add(l);
  }
  return letters;
}

/** The part of the rendered page from one section heading to the next. */
function section(name: string): string {
  const lines = page.text.split('\n');
  const start = lines.findIndex((l) => l === name);
  assert.ok(start >= 0, `no section ${name}`);
  const end = lines.findIndex((l, i) => i > start && /^[A-Z][A-Z ]+$/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

test('csync2.1 renders without warnings (man --warnings, 80 columns)', () => {
  assert.equal(page.warnings, '', page.warnings);
  assert.equal(page.code, 0);
  assert.match(page.text, /^CSYNC2\(1\)/);
});

test('csync2-cert.1 renders without warnings', () => {
  const cert = render(CERT_MAN_PAGE);
  assert.equal(cert.warnings, '', cert.warnings);
  assert.equal(cert.code, 0);
  for (const opt of ['-f', '-b bits', '-d days']) assert.match(cert.text, new RegExp(`^ {7}${opt}`, 'm'), opt);
});

test('the option letters taken from the help text are exactly getopt\'s letters and -k', () => {
  const fromGetopt = new Set([...GETOPT.replace(/:/g, ''), 'k']);
  assert.deepEqual([...helpLetters()].sort(), [...fromGetopt].sort());
});

test('OPTIONS has a tagged paragraph for every option letter of the help text', () => {
  const options = section('OPTIONS');
  const missing = [...helpLetters()].filter((l) => !new RegExp(`^ {7}-${l}(?:[ \\[]|$)`, 'm').test(options));
  assert.deepEqual(missing, [], `undocumented: ${missing.map((l) => `-${l}`).join(' ')}`);
});

test('the repeated-letter forms of the help text are explained', () => {
  for (const form of ['-TT', '-ii', '-iii', '-TI', '-cu']) {
    assert.match(section('OPTIONS'), new RegExp(`${form}\\b`), form);
  }
});

test('csync2.1 has the sections an admin looks for', () => {
  for (const name of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'MODES', 'OPTIONS', 'CONFIGURATION', 'FILES',
    'ENVIRONMENT', 'EXIT STATUS', 'EXAMPLES', 'SEE ALSO']) {
    assert.ok(page.text.split('\n').includes(name), `section ${name}`);
  }
});

test('EXIT STATUS gives 0, 1 and 2 with the -T and listing rules', () => {
  const exit = section('EXIT STATUS');
  for (const code of ['0', '1', '2']) assert.match(exit, new RegExp(`^ {7}${code} `, 'm'), code);
  assert.match(exit, /-T: everything\s+compared\s+is\s+in\s+sync/);
  assert.match(exit, /-H,\s+-L, -M, -S: nothing to list/);
});

test('FILES and ENVIRONMENT name the paths csync2 really uses', () => {
  const files = section('FILES');
  for (const path of ['/etc/csync2.cfg', '/etc/csync2_ssl_key.pem', '/etc/csync2_ssl_cert.pem', '/etc/csync2.lock',
    '/var/lib/csync2/host.db3', 'csync2.socket', 'csync2@.service', 'csync2-standalone.socket']) {
    assert.ok(files.includes(path), path);
  }
  assert.match(section('ENVIRONMENT'), /^ {7}CSYNC2_SYSTEM_DIR$/m);
});

test('what goes beyond the C csync2 is marked (csync2-ts)', () => {
  assert.match(section('FILES'), /csync2-standalone\.socket[\s\S]*?\(csync2-ts\)[\s\S]*?Accept=no/);
  assert.match(section('FILES'), /csync2-cert\(1\)\s+\(csync2-ts\)/);
  assert.match(section('OPTIONS'), /-ii[\s\S]*?\(csync2-ts\)[\s\S]*?Accept=no/);
});
