/**
 * The daemon side of -T and -TT: raw LIST and TYPE sessions against the REAL
 * daemon and OUR daemon on the same database and tree must get byte-identical
 * answers (which rows LIST returns for which server name, keys and client;
 * TYPE data and the end of the session; refusals). Then a LIST line longer than
 * the client's 2048-byte buffer: both clients against both daemons give up
 * the same way.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCluster, formatRun, type Cluster, type Impl, type TestHost } from '../helpers/index.js';
import { SQLITE3 } from '../helpers/paths.js';

const T0 = 1_600_000_000;

let c: Cluster;
let A: TestHost;
let B: TestHost;
let key: string;
let key2: string;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }], tls: false });
  [A, B] = c.hosts as [TestHost, TestHost];
  key = c.key.trim();
  // A second key that surely differs from the random first (one in 64 starts with S).
  key2 = `${key.startsWith('S') ? 'T' : 'S'}${key.slice(1)}`;
  const other = (h: TestHost): string => join(h.root, 'other');
  await c.writeConfig(`${c.defaultConfig()}\ngroup second\n{\n\thost ${A.name};\n\thost ${B.name};\n\tkey second.key;\n\tinclude %other%;\n}\n`
    + `prefix other\n{\n${c.hosts.map((h) => `\ton ${h.name}: ${other(h)};`).join('\n')}\n}\n`);
  for (const h of c.hosts) await writeFile(join(h.sysDir, 'second.key'), `${key2}\n`, { mode: 0o600 });
  await B.write('f1', 'one\n');
  await B.write('sp ace', 'two\n');
  await B.write('we:ird%$|', 'three\n');
  await B.write('\xc3\xa9t\xc3\xa9', '\u00e9t\u00e9\n');
  await B.write('sub/x', 'x\n');
  await B.write('big', Buffer.alloc(300_000, 'abcdefghij'));
  await B.write('../other/o1', 'other\n');
  for (const e of await B.treeSnapshot()) await B.setMtime(e.path, T0);
  await B.setMtime('', T0);
  const r = await B.run(['-cIr', B.path(''), other(B)]);
  assert.equal(r.code, 0, formatRun(r));
});

after(() => c?.cleanup());

/** One raw plain-text session from A's address; everything the daemon sent until it closed. */
async function session(lines: string[]): Promise<string> {
  const socket = await A.connect(B);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => { /* reported as what arrived */ });
  socket.write(Buffer.from(lines.map((l) => `${l}\n`).join(''), 'latin1'));
  const timer = setTimeout(() => socket.destroy(), 10_000);
  await closed;
  clearTimeout(timer);
  return Buffer.concat(chunks).toString('latin1');
}

const hello = (): string[] => ['CONFIG ', `HELLO ${A.name}`];

function sessions(): Record<string, string[]> {
  return {
    'LIST all': [...hello(), `LIST ${B.name} - ${key}`, 'BYE'],
    'LIST both keys': [...hello(), `LIST ${B.name} - ${key2} ${key}`, 'BYE'],
    'LIST second key only': [...hello(), `LIST ${B.name} - ${key2}`, 'BYE'],
    'LIST wrong key': [...hello(), `LIST ${B.name} - wrongkey`, 'BYE'],
    'LIST no key': [...hello(), `LIST ${B.name} -`, 'BYE'],
    'LIST wrong server name': [...hello(), `LIST ${A.name} - ${key}`, 'BYE'],
    'LIST one file': [...hello(), `LIST ${B.name} %25data%25/sp%20ace ${key}`, 'BYE'],
    'LIST one odd file': [...hello(), `LIST ${B.name} %25data%25/we%3Aird%25%24%7C ${key}`, 'BYE'],
    'LIST unknown file': [...hello(), `LIST ${B.name} %25data%25/nothing ${key}`, 'BYE'],
    'list lower case, twice': [...hello(), `list ${B.name} - ${key2}`, `LIST ${B.name} - ${key2}`, 'BYE'],
    'LIST before HELLO': ['CONFIG ', `LIST ${B.name} - ${key}`, 'BYE'],
    'TYPE file': [...hello(), `TYPE ${key} %25data%25/f1`, 'BYE'],
    'TYPE big file': [...hello(), `TYPE ${key} %25data%25/big`],
    'TYPE UTF-8 name': [...hello(), `TYPE ${key} %25data%25/\xc3\xa9t\xc3\xa9`],
    'TYPE missing file': [...hello(), `TYPE ${key} %25data%25/missing`, 'BYE'],
    'TYPE directory': [...hello(), `TYPE ${key} %25data%25/sub`, 'BYE'],
    'TYPE wrong key, then more': [...hello(), `TYPE wrongkey %25data%25/f1`, `TYPE ${key2} %25data%25/f1`,
      `TYPE ${key} /etc/hostname`, 'BYE'],
    'TYPE before HELLO': ['CONFIG ', `TYPE ${key} %25data%25/f1`, 'BYE'],
  };
}

async function playSessions(impl: Impl): Promise<Record<string, string>> {
  const d = await B.startDaemon({ impl, verbose: 0 });
  try {
    const out: Record<string, string> = {};
    for (const [name, lines] of Object.entries(sessions())) out[name] = await session(lines);
    return out;
  } finally {
    await d.stop();
  }
}

test('LIST and TYPE: our daemon answers byte for byte like the real one', async () => {
  const real = await playSessions('real');
  // The real daemon's answers are what the scenarios claim.
  const row = (enc: string): RegExp => new RegExp(`^v1%3Amtime=\\d+%3Amode=\\d+%3Auid=0%3Agid=0%3Atype=\\w+%3Asize=\\d+\\t${enc}$`, 'm');
  assert.match(real['LIST all']!, row('%25data%25/we%3Aird%25%24%7C'));
  assert.match(real['LIST all']!, row('%25data%25/\xc3\xa9t\xc3\xa9'));
  assert.doesNotMatch(real['LIST all']!, /%25other%25/);
  assert.match(real['LIST both keys']!, row('%25other%25/o1'));
  assert.equal(real['LIST wrong key'], 'OK (cmd_finished).\nOK (cmd_finished).\nOK (cmd_finished).\nOK (cu_later).\n');
  assert.equal(real['LIST wrong server name'], real['LIST wrong key']);
  assert.equal(real['LIST one file']!.split('\n').filter((l) => l.startsWith('v')).length, 1);
  assert.match(real['LIST before HELLO']!, /please identify first\.\n/);
  assert.equal(real['TYPE file'], 'OK (cmd_finished).\nOK (cmd_finished).\nOK (data_follows).\none\n', 'TYPE ends the session');
  assert.equal(real['TYPE big file']!.length, 'OK (cmd_finished).\nOK (cmd_finished).\nOK (data_follows).\n'.length + 300_000);
  assert.equal(real['TYPE missing file'], 'OK (cmd_finished).\nOK (cmd_finished).\nOK (data_follows).\n');
  assert.equal(real['TYPE wrong key, then more'],
    'OK (cmd_finished).\nOK (cmd_finished).\nPermission denied!\nPermission denied!\nPermission denied!\nOK (cu_later).\n');

  const ours = await playSessions('ours');
  for (const name of Object.keys(real)) assert.equal(ours[name], real[name], name);
});

test('a LIST line longer than 2047 bytes: both clients give up alike against both daemons', async () => {
  // Enough directory levels for a row of more than 2048 bytes.
  const deep = `${Array.from({ length: 9 }, (_, i) => `${i}${'d'.repeat(220)}`).join('/')}/f`;
  await B.write(deep, 'deep\n');
  await B.write('zz', 'after\n');
  const r = await B.run(['-cIr', B.path('')]);
  assert.equal(r.code, 0, formatRun(r));
  const outcomes: Record<string, { code: number | null; stdout: string; stderr: string }> = {};
  for (const server of ['real', 'ours'] as const) {
    const d = await B.startDaemon({ impl: server, verbose: 0 });
    try {
      for (const client of ['real', 'ours'] as const) {
        const run = await A.run(['-T', A.name, B.name], { impl: client });
        outcomes[`${client} vs ${server}`] = { code: run.code, stdout: run.stdout.toString('latin1'), stderr: run.stderr.toString('latin1') };
      }
    } finally {
      await d.stop();
    }
  }
  const want = outcomes['real vs real']!;
  assert.equal(want.code, 1);
  assert.equal(want.stderr, 'Received line too long for buffer size (2048), giving up.\n');
  assert.match(want.stdout, /^R\t\S+\t\S+\t%data%\/0d+\n/m, 'rows before the long one are printed');
  for (const [k, v] of Object.entries(outcomes)) {
    // Our client adds a second line saying which peer sent what.
    const [first, ...more] = v.stderr.split('\n');
    assert.deepEqual({ ...v, stderr: `${first}\n` }, want, k);
    if (k.startsWith('ours')) assert.match(more.join('\n'), /a LIST row from \S+ is longer than the 2047 bytes/, k);
  }
});

test('more rows than one page of the table (4096): LIST and -T give what the real ones give', async () => {
  // Rows straight into the tables (LIST and -T read rows, not the disk), in an order that is
  // not the names' order; on A every 500th differs and every 777th is missing.
  const many = (host: TestHost, where: string): void => {
    execFileSync(SQLITE3, [host.dbPath(), `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) `
      + `INSERT INTO file (filename, checktxt) SELECT '%25data%25/many/f' || printf('%05d', (i * 7919) % 10000) `
      + `|| CASE WHEN i % 3 = 0 THEN '%20x' ELSE '' END, 'v1%3Amtime=1%3Atype=reg%3Asize=' `
      + `|| (CASE WHEN ${host === A ? 'i % 500 = 0' : '0'} THEN 0 ELSE i END) FROM n ${where}`]);
  };
  // The previous test's over-long row would end every -T early.
  execFileSync(SQLITE3, [B.dbPath(), 'DELETE FROM file WHERE length(filename) > 1500']);
  many(B, '');
  assert.equal((await A.run(['-cIr', A.path('')])).code, 0);
  many(A, 'WHERE i % 777 != 0');

  const raw: Record<string, string> = {};
  for (const server of ['real', 'ours'] as const) {
    const d = await B.startDaemon({ impl: server, verbose: 0 });
    try {
      raw[server] = await session([...hello(), `LIST ${B.name} - ${key}`, 'BYE']);
    } finally {
      await d.stop();
    }
  }
  assert.ok(raw.real!.split('\n').filter((l) => l.includes('/many/')).length === 10_000, 'the real daemon lists every row');
  assert.equal(raw.ours, raw.real);

  const outcomes: Record<string, { code: number | null; stdout: string }> = {};
  for (const server of ['real', 'ours'] as const) {
    const d = await B.startDaemon({ impl: server, verbose: 0 });
    try {
      for (const client of ['real', 'ours'] as const) {
        const run = await A.run(['-T', A.name, B.name], { impl: client });
        outcomes[`${client} vs ${server}`] = { code: run.code, stdout: run.stdout.toString('latin1') };
      }
    } finally {
      await d.stop();
    }
  }
  const want = outcomes['real vs real']!;
  const lines = want.stdout.split('\n');
  assert.equal(lines.filter((l) => /^X\t.*\/many\//.test(l)).length, 19, 'every 500th row differs (but the first: missing)');
  assert.equal(lines.filter((l) => /^R\t.*\/many\//.test(l)).length, 13, 'every 777th row is only on the peer');
  for (const [k, v] of Object.entries(outcomes)) assert.deepEqual(v, want, k);
});
