import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { RsyncStreamError } from '../../src/rsync/errors.js';
import { Patcher, RsyncError, patchToFile } from '../../src/rsync/index.js';
import { Rng, rdiffBatch, tempDir } from './fixtures.js';

const MAGIC = [0x72, 0x73, 0x02, 0x36];

/** Big-endian bytes of `value` in `width` bytes. */
function be(value: number, width: number): number[] {
  const out: number[] = [];
  for (let i = width - 1; i >= 0; i--) out.push(Math.floor(value / 2 ** (8 * i)) % 256);
  return out;
}

const WIDTHS = [1, 2, 4, 8];

/** Every command form librsync defines, in non-minimal encodings too. */
function everyCommandDelta(basisLen: number): { delta: Buffer; expect: (basis: Buffer) => Buffer } {
  const bytes: number[] = [...MAGIC];
  const parts: Array<(basis: Buffer) => Buffer> = [];
  const rng = new Rng(42);
  for (let n = 1; n <= 64; n++) {
    const data = rng.bytes(n);
    bytes.push(n, ...data);
    parts.push(() => data);
  }
  WIDTHS.forEach((w, i) => {
    const data = rng.bytes(5 + i * 100);
    bytes.push(0x41 + i, ...be(data.length, w), ...data);
    parts.push(() => data);
  });
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      const pos = (a * 37 + b * 11) % (basisLen - 300), len = 1 + a * 50 + b * 20;
      bytes.push(0x45 + 4 * a + b, ...be(pos, WIDTHS[a]), ...be(len, WIDTHS[b]));
      parts.push((basis) => basis.subarray(pos, pos + len));
    }
  }
  bytes.push(0x00);
  return { delta: Buffer.from(bytes), expect: (basis) => Buffer.concat(parts.map((f) => f(basis))) };
}

async function patchBytes(basis: string | null, delta: Buffer, out: string, chunk = delta.length || 1): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let off = 0; off < delta.length; off += chunk) pieces.push(delta.subarray(off, off + chunk));
  const fd = openSync(out, 'w');
  try {
    await patchToFile(basis, pieces, fd);
  } finally {
    closeSync(fd);
  }
  return readFileSync(out);
}

test('every LITERAL and COPY width, in any chunking, patches like rdiff', async () => {
  const { dir, cleanup } = tempDir('patchall');
  try {
    const basis = new Rng(1).bytes(4000);
    writeFileSync(join(dir, 'basis'), basis);
    const { delta, expect } = everyCommandDelta(basis.length);
    writeFileSync(join(dir, 'delta'), delta);
    const failed = await rdiffBatch(dir, [['patch', join(dir, 'basis'), join(dir, 'delta'), join(dir, 'rd.out')]]);
    assert.equal(failed.size, 0);
    const want = expect(basis);
    assert.ok(readFileSync(join(dir, 'rd.out')).equals(want), 'rdiff agrees with the expected output');
    for (const chunk of [1, 2, 3, 17, 64, 1000, delta.length]) {
      const got = await patchBytes(join(dir, 'basis'), delta, join(dir, 'ts.out'), chunk);
      assert.ok(got.equals(want), `chunks of ${chunk}`);
    }
  } finally {
    cleanup();
  }
});

test('a large COPY and a large literal stream through the output buffers intact', async () => {
  const { dir, cleanup } = tempDir('patchbig');
  try {
    const basis = new Rng(2).bytes(3 * 1024 * 1024 + 5);
    writeFileSync(join(dir, 'basis'), basis);
    const literal = new Rng(3).bytes(1500 * 1024);
    const delta = Buffer.concat([Buffer.from(MAGIC), Buffer.from([0x50, ...be(7, 4), ...be(basis.length - 7, 8)]),
      Buffer.from([0x43, ...be(literal.length, 4)]), literal, Buffer.from([0x45, 0, 9, 0])]);
    const got = await patchBytes(join(dir, 'basis'), delta, join(dir, 'out'), 100_000);
    assert.ok(got.equals(Buffer.concat([basis.subarray(7), literal, basis.subarray(0, 9)])));
  } finally {
    cleanup();
  }
});

test('malformed deltas fail with the librsync verdict and the offset of the bad byte; rdiff agrees', async () => {
  const { dir, cleanup } = tempDir('patchbad');
  try {
    writeFileSync(join(dir, 'basis'), Buffer.alloc(100, 7));
    const cases: Array<{ name: string; delta: number[]; kind: string | null; offset?: number; out?: Buffer; rdiffCode?: number }> = [
      { name: 'empty', delta: [], kind: 'input-ended', offset: 0 },
      { name: 'magic cut', delta: MAGIC.slice(0, 3), kind: 'input-ended', offset: 3 },
      { name: 'signature magic', delta: [0x72, 0x73, 0x01, 0x36, 0], kind: 'bad-magic', offset: 0 },
      { name: 'no END', delta: [...MAGIC, 2, 65, 66], kind: 'input-ended', offset: 7 },
      { name: 'literal cut', delta: [...MAGIC, 5, 65, 66], kind: 'input-ended', offset: 7 },
      { name: 'params cut', delta: [...MAGIC, 0x4a, 0, 1], kind: 'input-ended', offset: 7 },
      { name: 'reserved opcode', delta: [...MAGIC, 1, 65, 0x55, 0], kind: 'corrupt', offset: 6 },
      { name: 'opcode 0xff', delta: [...MAGIC, 0xff], kind: 'corrupt', offset: 4 },
      { name: 'literal length 0', delta: [...MAGIC, 0x41, 0, 0], kind: 'corrupt', offset: 4 },
      { name: 'copy length 0', delta: [...MAGIC, 0x45, 0, 0, 0], kind: 'corrupt', offset: 4 },
      { name: 'copy past end', delta: [...MAGIC, 0x45, 90, 11, 0], kind: 'input-ended', offset: 4 },
      // rdiff's fseek to 2^60 fails first: an I/O error there, "past the end" here.
      { name: 'copy far past end', delta: [...MAGIC, 0x51, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0], kind: 'input-ended', offset: 4, rdiffCode: 100 },
      { name: 'negative 64-bit position', delta: [...MAGIC, 0x51, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0], kind: 'corrupt', offset: 4 },
      { name: 'negative 64-bit length', delta: [...MAGIC, 0x44, 0x80, 0, 0, 0, 0, 0, 0, 1, 0], kind: 'corrupt', offset: 4 },
      { name: 'copy exactly to the end', delta: [...MAGIC, 0x45, 90, 10, 0], kind: null, out: Buffer.alloc(10, 7) },
      { name: 'bytes after END', delta: [...MAGIC, 1, 65, 0, 0xff, 0xfe], kind: null, out: Buffer.from('A') },
      { name: 'non-minimal literal', delta: [...MAGIC, 0x41, 3, 65, 66, 67, 0], kind: null, out: Buffer.from('ABC') },
    ];
    const commands = cases.map((c, i) => {
      writeFileSync(join(dir, `${i}.delta`), Buffer.from(c.delta));
      return ['patch', join(dir, 'basis'), join(dir, `${i}.delta`), join(dir, `${i}.rd.out`)];
    });
    const failed = await rdiffBatch(dir, commands);
    const codes: Record<string, number> = { 'input-ended': 103, 'bad-magic': 104, corrupt: 106, param: 108 };
    for (const [i, c] of cases.entries()) {
      let error: unknown = null;
      let out: Buffer | null = null;
      try {
        out = await patchBytes(join(dir, 'basis'), Buffer.from(c.delta), join(dir, `${i}.ts.out`), 1);
      } catch (err) {
        error = err;
      }
      if (c.kind === null) {
        assert.equal(error, null, `${c.name}: ${String(error)}`);
        assert.ok(out!.equals(c.out!), `${c.name}: output`);
        assert.equal(failed.get(i), undefined, `${c.name}: rdiff fails it`);
        assert.ok(readFileSync(join(dir, `${i}.rd.out`)).equals(c.out!), `${c.name}: rdiff output`);
        continue;
      }
      assert.ok(error instanceof RsyncError, `${c.name}: ${String(error)}`);
      assert.ok(error instanceof RsyncStreamError);
      assert.equal(error.kind, c.kind, c.name);
      assert.equal(error.offset, c.offset, `${c.name}: offset`);
      assert.equal(failed.get(i), c.rdiffCode ?? codes[c.kind], `${c.name}: rdiff's exit code`);
    }
  } finally {
    cleanup();
  }
});

test('a null basis is empty: literals patch, any COPY fails', async () => {
  const { dir, cleanup } = tempDir('patchnull');
  try {
    const ok = await patchBytes(null, Buffer.from([...MAGIC, 2, 104, 105, 0]), join(dir, 'a'));
    assert.equal(ok.toString(), 'hi');
    await assert.rejects(patchBytes(null, Buffer.from([...MAGIC, 0x45, 0, 1, 0]), join(dir, 'b')),
      (err: unknown) => err instanceof RsyncError && err.offset === 4);
  } finally {
    cleanup();
  }
});

test('the patcher writes only to the fd it is given, and a failure leaves the basis untouched', async () => {
  const { dir, cleanup } = tempDir('patchfd');
  try {
    const basis = new Rng(4).bytes(10_000);
    writeFileSync(join(dir, 'basis'), basis);
    const fd = openSync(join(dir, 'tmp.out'), 'w');
    const patcher = new Patcher(null, fd);
    await patcher.write(Buffer.from([...MAGIC, 3, 1, 2, 3]));
    await assert.rejects(patcher.write(Buffer.from([0x60])), RsyncError);
    closeSync(fd);
    await assert.rejects(patchBytes(join(dir, 'basis'), Buffer.from([...MAGIC, 0x49, 0x27, 0x0f, 200]), join(dir, 'tmp2.out')),
      RsyncError);
    assert.deepEqual(readdirSync(dir).sort(), ['basis', 'tmp.out', 'tmp2.out']);
    assert.ok(readFileSync(join(dir, 'basis')).equals(basis));
  } finally {
    cleanup();
  }
});
