import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng, rdiffBatch, runProc, tempDir } from './fixtures.js';

/** bin/csync2-rdiff; this file runs as dist/test/rsync/cli.test.js. */
const CLI = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'bin', 'csync2-rdiff');

function ours(args: string[], input?: Buffer): ReturnType<typeof runProc> {
  return runProc(process.execPath, [CLI, ...args], 60_000, input);
}

test('csync2-rdiff signature/delta/patch equal rdiff\'s output, through files and through stdin/stdout', async () => {
  const { dir, cleanup } = tempDir('cli');
  try {
    const rng = new Rng(31);
    const basis = rng.bytes(300_000);
    const next = Buffer.concat([basis.subarray(0, 100_000), rng.bytes(5000), basis.subarray(120_000)]);
    const f = (name: string): string => join(dir, name);
    writeFileSync(f('basis'), basis);
    writeFileSync(f('new'), next);
    assert.equal((await rdiffBatch(dir, [
      ['-H', 'md4', '-R', 'rollsum', '-b', '2048', '-S', '0', 'signature', f('basis'), f('rd.csync2.sig')],
      ['signature', f('basis'), f('rd.default.sig')],
      ['delta', f('rd.default.sig'), f('new'), f('rd.delta')],
    ])).size, 0);

    let r = await ours(['-H', 'md4', '-R', 'rollsum', '-b', '2048', '-S', '0', 'signature', f('basis'), f('csync2.sig')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(f('csync2.sig')).equals(readFileSync(f('rd.csync2.sig'))));
    r = await ours(['sig', f('basis')]); // an abbreviated action, output to stdout
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(readFileSync(f('rd.default.sig'))), 'default signature kind and block size like rdiff');

    r = await ours(['delta', f('rd.default.sig'), '-', '-'], next);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(readFileSync(f('rd.delta'))), 'delta from stdin to stdout');

    r = await ours(['-s', 'patch', f('basis'), f('rd.delta'), f('out')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(f('out')).equals(next));
    assert.match(r.stderr, /^patch statistics: literal\[\d+ cmds/);
  } finally {
    cleanup();
  }
});

test('csync2-rdiff exits like rdiff on bad usage and bad input, and leaves no partial output', async () => {
  const { dir, cleanup } = tempDir('clierr');
  try {
    const f = (name: string): string => join(dir, name);
    writeFileSync(f('basis'), 'some basis data\n');
    writeFileSync(f('exists'), 'keep me');
    writeFileSync(f('bad.delta'), Buffer.from([0x72, 0x73, 0x02, 0x36, 0x03, 0x41, 0x42, 0x43, 0x60]));
    writeFileSync(f('cut.delta'), Buffer.from([0x72, 0x73, 0x02, 0x36, 0x03, 0x41]));
    writeFileSync(f('magic.delta'), Buffer.from([0x72, 0x73, 0x01, 0x36, 0x00]));
    const cases: Array<{ args: string[]; code: number; pattern?: RegExp }> = [
      { args: ['patch', f('basis'), f('bad.delta'), f('o1')], code: 106, pattern: /bogus delta command 0x60 at offset 8/ },
      { args: ['patch', f('basis'), f('cut.delta'), f('o2')], code: 103 },
      { args: ['patch', f('basis'), f('magic.delta'), f('o3')], code: 104 },
      { args: ['-S', '40', 'signature', f('basis'), f('o4')], code: 108 },
      { args: ['-H', 'sha1', 'signature', f('basis'), f('o5')], code: 101 },
      { args: ['--bogus', 'signature', f('basis'), f('o6')], code: 101 },
      { args: ['frobnicate'], code: 101 },
      { args: ['signature', f('basis'), f('exists')], code: 100, pattern: /File exists/ },
      { args: ['signature', f('missing'), f('o7')], code: 100 },
    ];
    for (const c of cases) {
      const r = await ours(c.args);
      assert.equal(r.code, c.code, `${c.args.join(' ')}: ${r.stderr}`);
      if (c.pattern) assert.match(r.stderr, c.pattern);
    }
    const rd = await rdiffBatch(dir, cases.slice(0, 7).map((c) => c.args.map((a) => a.replace(/o(\d)$/, 'rd$1'))));
    cases.slice(0, 7).forEach((c, i) => assert.equal(rd.get(i), c.code, `rdiff ${c.args.join(' ')}`));
    assert.equal(readFileSync(f('exists'), 'utf8'), 'keep me');
    for (const o of ['o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7']) assert.ok(!existsSync(f(o)), `${o} was left behind`);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), [], 'temp files left behind');
    const forced = await ours(['-f', '-H', 'md4', '-R', 'rollsum', 'signature', f('basis'), f('exists')]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(f('exists')).subarray(0, 4).toString('hex'), '72730136');
  } finally {
    cleanup();
  }
});
