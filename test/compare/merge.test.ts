/**
 * Unit tests of the -T building blocks: the LIST merge walk with csync2's two
 * ordering quirks, the LIST request line, the reply reader, the JSON form and
 * the diff invocation for names that are not UTF-8.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type { Group } from '../../src/config/model.js';
import { Connection } from '../../src/net/connection.js';
import type { PeerLink } from '../../src/net/client.js';
import { urlEncode } from '../../src/protocol/urlencode.js';
import { DIFF_COMMAND, diffInvocation } from '../../src/sync/compare-diff.js';
import { ListReader, listRequest } from '../../src/sync/compare-list.js';
import { checktxtOf, mergeLists, type ListRow } from '../../src/sync/compare-merge.js';
import { jsonWanted } from '../../src/sync/compare-report.js';
import { errorCount } from '../../src/util/log.js';

/** Rows as both sides deliver them: sorted by the url-encoded name. */
function rows(spec: Record<string, string>): ListRow[] {
  return Object.entries(spec)
    .map(([file, checktxt]) => ({ file, encodedChecktxt: urlEncode(checktxt) }))
    .sort((a, b) => (urlEncode(a.file) < urlEncode(b.file) ? -1 : urlEncode(a.file) > urlEncode(b.file) ? 1 : 0));
}

async function walk(local: Record<string, string>, remote: Record<string, string>): Promise<{ inSync: boolean; out: string[] }> {
  const r = rows(remote);
  let i = 0;
  const out: string[] = [];
  const inSync = await mergeLists(rows(local), async () => r[i++] ?? null, (d) => out.push(`${d.kind} ${d.file}`));
  return { inSync, out };
}

test('merge: identical lists are in sync, L/R/X as expected', async () => {
  assert.deepEqual(await walk({ a: '1', b: '2' }, { a: '1', b: '2' }), { inSync: true, out: [] });
  assert.deepEqual(await walk({ a: '1', c: '3', d: '4' }, { b: '2', c: '3', d: '5' }),
    { inSync: false, out: ['L a', 'R b', 'X d'] });
  assert.deepEqual(await walk({}, { x: '1', y: '2' }), { inSync: false, out: ['R x', 'R y'] });
  assert.deepEqual(await walk({ x: '1', y: '2' }, {}), { inSync: false, out: ['L x', 'L y'] });
});

test('merge: lists sorted by encoded names but compared decoded (csync2 quirk)', async () => {
  // Encoded order: "q!b" < "q%20b"; decoded: "q b" < "q!b". The shared "q b" shows up twice.
  assert.deepEqual(await walk({ 'q!b': '1', 'q b': '1' }, { 'q b': '1' }),
    { inSync: false, out: ['R q b', 'L q!b', 'L q b'] });
});

test('merge: checktxts compare decoded, whatever their encoding', async () => {
  const row = (file: string, encodedChecktxt: string): ListRow => ({ file, encodedChecktxt });
  const run = async (l: ListRow, r: ListRow): Promise<string[]> => {
    const out: string[] = [];
    let sent = false;
    await mergeLists([l], async () => (sent ? null : ((sent = true), r)), (d) => out.push(`${d.kind} ${d.file}`));
    return out;
  };
  // Another tool's db may encode ':' as %3a: the same text, no difference.
  assert.deepEqual(await run(row('f', 'v1%3Amode=1'), row('f', 'v1%3amode=1')), []);
  assert.deepEqual(await run(row('f', 'v1%3Amode=1'), row('f', 'v1%3Amode=2')), ['X f']);
});

test('merge: a remote row held back when the local rows end is never reported (csync2 quirk)', async () => {
  // Local "a" < remote "b": L a, "b" kept for the next local row; there is none, so "b" is lost, "c" is R.
  assert.deepEqual(await walk({ a: '1' }, { b: '2', c: '3' }), { inSync: false, out: ['L a', 'R c'] });
});

test('listRequest: peer and keys raw, file encoded, keys of every matching active group in order', () => {
  const g = (name: string, key: string, myname: string | null, hosts: string[], active = true): Group => ({
    name, key, keyFile: '', myname, localIsSlave: false, hosts: hosts.map((h) => ({ name: h, slave: false, leftSide: false })),
    patterns: [], auto: 'none', backupDirectory: null, backupGenerations: 3, actions: [], active, hasActivePeers: true,
    file: '', line: 0,
  });
  const groups = [g('g3', 'K3', 'me', ['p']), g('g2', 'K2', 'other', ['p']), g('g1', 'K1', 'me', ['q', 'p']),
    g('g0', 'K0', 'me', ['p'], false), g('g4', 'K3', 'me', ['p'])];
  assert.equal(listRequest(groups, 'me', 'p', null), 'LIST p - K3 K1 K3');
  assert.equal(listRequest(groups, 'me', 'p', '%data%/a b:c'), 'LIST p %25data%25/a%20b%3Ac K3 K1 K3');
  assert.equal(listRequest(groups, 'me', 'nobody', null), 'LIST nobody -');
});

function readerOn(text: string): { reader: ListReader; input: PassThrough } {
  const input = new PassThrough();
  const conn = new Connection(input, { peerIp: null });
  const link = { conn } as unknown as PeerLink;
  input.end(Buffer.from(text, 'latin1'));
  return { reader: new ListReader(link), input };
}

test('ListReader: names decoded, checktxts as sent, OK ends, other lines are errors, malformed rows, 2048-byte limit', async () => {
  const before = errorCount.value;
  try {
    let { reader } = readerOn('v1%3Amtime=1\t%25data%25/a%20b\nv2\t\tx\nOK (cmd_finished).\n');
    const first = await reader.next();
    assert.deepEqual(first, { encodedChecktxt: 'v1%3Amtime=1', file: '%data%/a b' });
    assert.equal(checktxtOf(first!), 'v1:mtime=1');
    assert.deepEqual(await reader.next(), { encodedChecktxt: 'v2', file: '\tx' }, 'the name is everything after the first TAB');
    assert.equal(await reader.next(), null);
    assert.equal(errorCount.value, before);

    ({ reader } = readerOn('Permission denied!\n'));
    assert.equal(await reader.next(), null);
    assert.equal(reader.error, 'ERROR from peer: Permission denied!');
    assert.equal(errorCount.value, before + 1);

    ({ reader } = readerOn('vnotab\n'));
    assert.equal(await reader.next(), null);
    assert.equal(reader.error, 'Format error in reply: \\n not found!');
    assert.equal(errorCount.value, before + 2);

    ({ reader } = readerOn(''));
    assert.equal(await reader.next(), null, 'end of file ends the list');
    assert.equal(errorCount.value, before + 2, 'without an error of its own');

    ({ reader } = readerOn(`v\t${'x'.repeat(2044)}\n`));
    assert.equal((await reader.next())?.file.length, 2044, '2047 bytes with the LF fit');
    ({ reader } = readerOn(`v\t${'x'.repeat(2045)}\n`));
    await assert.rejects(async () => reader.next(), /Received line too long for buffer size \(2048\), giving up\./);
  } finally {
    errorCount.value = before;
  }
});

test('jsonWanted: CSYNC2_TS_JSON set to anything but empty or 0', () => {
  assert.equal(jsonWanted({}), false);
  assert.equal(jsonWanted({ CSYNC2_TS_JSON: '' }), false);
  assert.equal(jsonWanted({ CSYNC2_TS_JSON: '0' }), false);
  assert.equal(jsonWanted({ CSYNC2_TS_JSON: '1' }), true);
});

test('diffInvocation: UTF-8 values as they are, other bytes rebuilt exactly by the shell', () => {
  const values = { my_label: 'h1:%data%/\xc3\xa9', peer_label: 'h2:%data%/lat\xe9 \\0 x\n', diff_file: '/d/lat\xe9\n' };
  const { env, command } = diffInvocation(values);
  assert.equal(env.my_label, 'h1:%data%/\u00e9');
  assert.ok(command.endsWith(DIFF_COMMAND));
  // Run the prelude, then print the three values as bytes.
  const probe = command.replace(DIFF_COMMAND, 'printf "%s|%s|%s" "$my_label" "$peer_label" "$diff_file"');
  const out = execFileSync('/bin/sh', ['-c', probe], { env });
  assert.equal(out.toString('latin1'), `${values.my_label}|${values.peer_label}|${values.diff_file}`);
});
