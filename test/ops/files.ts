/**
 * Shared pieces of the ops tests: where the shipped files are, a systemd-unit
 * reader, and the check for the system tools the tests call.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

export const SYSTEMD_DIR = join(REPO_ROOT, 'systemd');
export const XINETD_FILE = join(REPO_ROOT, 'xinetd', 'csync2');
export const DOCS_DIR = join(REPO_ROOT, 'docs');
export const MAN_PAGE = join(DOCS_DIR, 'csync2.1');
export const CERT_MAN_PAGE = join(DOCS_DIR, 'csync2-cert.1');
export const LOCHECK = join(DOCS_DIR, 'csync2-locheck.sh');
export const ADMIN_GUIDE = join(DOCS_DIR, 'admin-guide.md');
export const CRON_EXAMPLE = join(DOCS_DIR, 'cron.example');

/** The units we ship, by file name. */
export const UNIT_FILES = [
  'csync2.socket', 'csync2@.service', 'csync2.service', 'csync2-standalone.socket', 'csync2-standalone.service',
] as const;

/** The path every shipped unit and the xinetd file start csync2 with (`make install PREFIX=/usr`). */
export const SHIPPED_CSYNC2 = '/usr/sbin/csync2';

/** The inetd.conf line the docs give, split into its fields. */
export const INETD_FIELDS = ['csync2', 'stream', 'tcp', 'nowait', 'root', SHIPPED_CSYNC2, 'csync2', '-i', '-l'];

/** section -> key -> values (a key may repeat; an empty assignment resets it, as systemd does). */
export type UnitFile = Map<string, Map<string, string[]>>;

/** A strict reader of systemd's INI dialect: anything it does not understand throws. */
export function parseUnit(text: string, name = 'unit'): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      if (unit.has(header[1]!)) throw new Error(`${name}:${i + 1}: section [${header[1]}] twice`);
      section = new Map();
      unit.set(header[1]!, section);
      return;
    }
    const assignment = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!assignment || !section) throw new Error(`${name}:${i + 1}: not a key=value line in a section: ${raw}`);
    const [, key, value] = assignment as unknown as [string, string, string];
    const values = value === '' ? [] : [...(section.get(key) ?? []), value.trim()];
    section.set(key, values);
  });
  return unit;
}

export function readUnit(fileName: string): UnitFile {
  return parseUnit(readFileSync(join(SYSTEMD_DIR, fileName), 'utf8'), fileName);
}

/** The single value of section.key (throws when absent or repeated). */
export function unitValue(unit: UnitFile, section: string, key: string): string {
  const values = unit.get(section)?.get(key) ?? [];
  if (values.length !== 1) throw new Error(`[${section}] ${key}: expected one value, found ${JSON.stringify(values)}`);
  return values[0]!;
}

/** ExecStart of a service split into program and arguments (no prefixes such as `-`, no quoting). */
export function execStart(fileName: string): { program: string; args: string[] } {
  const line = unitValue(readUnit(fileName), 'Service', 'ExecStart');
  if (/["'\\$%]/.test(line)) throw new Error(`${fileName}: ExecStart uses quoting or specifiers: ${line}`);
  const [program, ...args] = line.split(/\s+/);
  return { program: program!, args };
}

export function commandExists(name: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * `man` and groff render the man pages. Debian images without them get them here (the Makefile's
 * system-deps target is the normal place; this keeps the test from skipping when it was not run).
 */
export function ensureManTools(): void {
  if (commandExists('man') && commandExists('groff')) return;
  const apt = (...args: string[]): void => {
    const argv = process.getuid?.() === 0 ? ['apt-get', ...args] : ['sudo', 'apt-get', ...args];
    execFileSync(argv[0]!, argv.slice(1), { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: 'ignore' });
  };
  try {
    apt('install', '-y', '-qq', 'man-db', 'groff-base');
  } catch {
    apt('update', '-qq');
    apt('install', '-y', '-qq', 'man-db', 'groff-base');
  }
}

/** Text as rendered for a terminal, without overstrike or colour sequences. */
export function plainText(rendered: string): string {
  // eslint-disable-next-line no-control-regex
  return rendered.replace(/.\x08/g, '').replace(/\x1b\[[0-9;]*m/g, '');
}
