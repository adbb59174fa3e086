/**
 * The service wiring we ship: systemd units (checked by `systemd-analyze verify` when it exists, and
 * always by a strict INI reading of the keys that matter), the xinetd service and the inetd.conf line
 * in the docs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ADMIN_GUIDE, INETD_FIELDS, MAN_PAGE, SHIPPED_CSYNC2, SYSTEMD_DIR, UNIT_FILES, XINETD_FILE, commandExists,
  execStart, parseUnit, readUnit, unitValue,
} from './files.js';

const HAVE_VERIFY = commandExists('systemd-analyze');

/** Copies the units (and the man page, for their Documentation= check) and runs verify on them. */
function verify(units: Record<string, string>): { code: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'csync2-ts-units-'));
  try {
    mkdirSync(join(dir, 'man', 'man1'), { recursive: true });
    copyFileSync(MAN_PAGE, join(dir, 'man', 'man1', 'csync2.1'));
    for (const [name, text] of Object.entries(units)) writeFileSync(join(dir, name), text);
    const r = spawnSync('systemd-analyze', ['verify', ...Object.keys(units).map((n) => `./${n}`)], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, MANPATH: join(dir, 'man'), SYSTEMD_LOG_COLOR: '0' },
    });
    return { code: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function shippedUnits(): Record<string, string> {
  return Object.fromEntries(UNIT_FILES.map((n) => [n, readFileSync(join(SYSTEMD_DIR, n), 'utf8')]));
}

test(`systemd-analyze verify accepts every unit${HAVE_VERIFY ? '' : ' (not installed: INI checks only)'}`, () => {
  if (!HAVE_VERIFY) {
    // Without systemd the strict INI reading below is all we can do; it still runs.
    for (const name of UNIT_FILES) assert.ok(readUnit(name).size > 0, name);
    return;
  }
  const r = verify(shippedUnits());
  assert.equal(r.output, '', `systemd-analyze verify complained:\n${r.output}`);
  assert.equal(r.code, 0);
});

test(`${HAVE_VERIFY ? 'systemd-analyze verify' : 'the INI check'} is a real check: it rejects a broken unit`, () => {
  if (!HAVE_VERIFY) {
    assert.throws(() => parseUnit('[Socket]\nAccept sometimes\n'));
    return;
  }
  const units = shippedUnits();
  units['csync2.socket'] = units['csync2.socket']!.replace('Accept=yes', 'Accept=sometimes');
  const r = verify(units);
  // verify may still exit 0 for a value it ignores; the first test therefore requires silence.
  assert.match(r.output, /sometimes/);
});

test('csync2.socket + csync2@.service: Accept=yes, one `csync2 -i -l` per connection on stdin/stdout', () => {
  const socket = readUnit('csync2.socket');
  assert.equal(unitValue(socket, 'Socket', 'ListenStream'), '30865');
  assert.equal(unitValue(socket, 'Socket', 'Accept'), 'yes');
  assert.equal(unitValue(socket, 'Install', 'WantedBy'), 'sockets.target');
  const service = readUnit('csync2@.service');
  assert.deepEqual(execStart('csync2@.service'), { program: SHIPPED_CSYNC2, args: ['-i', '-l'] });
  assert.equal(unitValue(service, 'Service', 'StandardInput'), 'socket');
  assert.equal(unitValue(service, 'Service', 'StandardOutput'), 'socket');
  // stderr must not be the socket: it would corrupt the protocol stream.
  assert.equal(unitValue(service, 'Service', 'StandardError'), 'journal');
  assert.equal(service.has('Install'), false, 'an Accept=yes instance is started by its socket only');
});

test('csync2.service runs the standalone daemon `csync2 -ii -l`', () => {
  const service = readUnit('csync2.service');
  assert.deepEqual(execStart('csync2.service'), { program: SHIPPED_CSYNC2, args: ['-ii', '-l'] });
  assert.equal(unitValue(service, 'Service', 'Type'), 'simple');
  assert.equal(unitValue(service, 'Install', 'WantedBy'), 'multi-user.target');
});

test('csync2-standalone.socket passes its listening socket (Accept=no) to `csync2 -ii -l`', () => {
  const socket = readUnit('csync2-standalone.socket');
  assert.equal(unitValue(socket, 'Socket', 'ListenStream'), '30865');
  assert.equal(unitValue(socket, 'Socket', 'Accept'), 'no');
  assert.equal(unitValue(socket, 'Socket', 'Service'), 'csync2-standalone.service');
  const service = readUnit('csync2-standalone.service');
  assert.deepEqual(execStart('csync2-standalone.service'), { program: SHIPPED_CSYNC2, args: ['-ii', '-l'] });
  assert.equal(unitValue(service, 'Unit', 'Requires'), 'csync2-standalone.socket');
  assert.equal(service.has('Install'), false, 'started through its socket');
});

test('the three ways to own port 30865 conflict with each other', () => {
  const conflicts = (name: string): string[] => (readUnit(name).get('Unit')?.get('Conflicts') ?? []).flatMap((v) => v.split(/\s+/));
  const owners = ['csync2.socket', 'csync2.service', 'csync2-standalone.socket'];
  for (const owner of owners) {
    assert.deepEqual(conflicts(owner).sort(), owners.filter((o) => o !== owner).sort(), owner);
  }
});

test('the unit reader is strict: stray lines and repeated sections are errors', () => {
  assert.throws(() => parseUnit('[Socket]\nListenStream 30865\n'), /not a key=value/);
  assert.throws(() => parseUnit('ListenStream=30865\n'), /not a key=value/);
  assert.throws(() => parseUnit('[Unit]\n[Unit]\n'), /twice/);
  assert.deepEqual(parseUnit('[Service]\nExecStart=/a\nExecStart=\nExecStart=/b\n').get('Service')?.get('ExecStart'), ['/b']);
});

/** xinetd's `key = value` / `key += value` lines inside `service NAME { ... }`. */
function parseXinetd(text: string): { name: string; attrs: Map<string, string> } {
  const m = /^service\s+(\S+)\s*\n\{\n([\s\S]*?)\n\}\s*$/m.exec(text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n'));
  if (!m) throw new Error('no service block');
  const attrs = new Map<string, string>();
  for (const line of m[2]!.split('\n')) {
    if (line.trim() === '') continue;
    const kv = /^\s*([a-z_]+)\s*\+?=\s*(.*?)\s*$/.exec(line);
    if (!kv) throw new Error(`bad xinetd line: ${line}`);
    if (attrs.has(kv[1]!)) throw new Error(`${kv[1]} twice`);
    attrs.set(kv[1]!, kv[2]!);
  }
  return { name: m[1]!, attrs };
}

test('xinetd/csync2 starts `csync2 -i -l` per TCP connection on 30865 (disabled until enabled)', () => {
  const { name, attrs } = parseXinetd(readFileSync(XINETD_FILE, 'utf8'));
  assert.equal(name, 'csync2');
  const expected: Record<string, string> = {
    socket_type: 'stream', protocol: 'tcp', wait: 'no', user: 'root', server: SHIPPED_CSYNC2,
    server_args: '-i -l', port: '30865', type: 'UNLISTED', disable: 'yes',
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(attrs.get(key), value, key);
});

test('the docs give the inetd.conf line: csync2 stream tcp nowait root /usr/sbin/csync2 csync2 -i -l', () => {
  for (const [file, text] of [[ADMIN_GUIDE, readFileSync(ADMIN_GUIDE, 'utf8')],
    [XINETD_FILE, readFileSync(XINETD_FILE, 'utf8')],
    // groff source: `\-` is a plain minus.
    [MAN_PAGE, readFileSync(MAN_PAGE, 'utf8').replace(/\\-/g, '-')]] as const) {
    const lines = text.split('\n').map((l) => l.replace(/^#\s*/, '').trim().split(/\s+/));
    assert.ok(lines.some((fields) => fields.join(' ') === INETD_FIELDS.join(' ')), `${file} lacks the inetd.conf line`);
  }
});
