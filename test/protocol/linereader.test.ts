/** LineReader: every chunking gives the same lines/frames, exact limits, EOF forms, backpressure, hand-over. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { LineReader, lineTooLong } from '../../src/protocol/linereader.js';
import { FRAME_ERROR } from '../../src/protocol/frame.js';
import { REPLY_LINE_MAX, SERVER_LINE_MAX } from '../../src/protocol/limits.js';
import { ProtocolError } from '../../src/util/errors.js';

/** A deterministic PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function split(data: Buffer, sizes: (i: number) => number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.max(1, Math.min(sizes(i), data.length - off));
    out.push(Buffer.from(data.subarray(off, off + n))); // copies: no shared memory between chunks
    off += n;
  }
  return out;
}

/** Emits the chunks asynchronously, one per macrotask every few chunks, like a socket would. */
function source(chunks: Buffer[]): Readable {
  const pt = new PassThrough();
  let i = 0;
  const pump = (): void => {
    for (let k = 0; k < 50 && i < chunks.length; k++) pt.write(chunks[i++]);
    if (i < chunks.length) setImmediate(pump);
    else pt.end();
  };
  setImmediate(pump);
  return pt;
}

const payload = randomBytes(5000);
const payloadWithLFs = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? 10 : i & 0xff)));
const tail = randomBytes(10_000);
const longLine = 'x'.repeat(SERVER_LINE_MAX - 2);
const STREAM = Buffer.concat([
  Buffer.from('SSL\nCONFIG \n\nHELLO 127.0.10.1\r\n\0\xff\x80 bytes\n', 'latin1'),
  Buffer.from('octet-stream 5000\n'), payload,
  Buffer.from('OK (cmd_finished).\noctet-stream 0\noctet-stream -1\nERROR\n'),
  Buffer.from('octet-stream 3000\n'), payloadWithLFs,
  Buffer.from(longLine + '\n', 'latin1'),
  Buffer.from('x\n'),
  tail,
]);

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

async function parseAll(r: LineReader): Promise<void> {
  assert.equal(await r.readLine(SERVER_LINE_MAX), 'SSL');
  assert.equal(await r.readLine(SERVER_LINE_MAX), 'CONFIG ');
  assert.equal(await r.readLine(SERVER_LINE_MAX), '');
  assert.equal(await r.readLine(SERVER_LINE_MAX), 'HELLO 127.0.10.1\r');
  assert.equal(await r.readLine(SERVER_LINE_MAX), '\0\xff\x80 bytes');
  assert.equal(await r.readFrameHeader(), 5000);
  assert.deepEqual(await collect(r.readFramePayload(5000)), payload);
  assert.equal(await r.readLine(REPLY_LINE_MAX), 'OK (cmd_finished).');
  assert.equal(await r.readFrameHeader(), 0);
  assert.equal(await r.readFrameHeader(), FRAME_ERROR);
  assert.equal(await r.readFrameHeader(), FRAME_ERROR);
  assert.equal(await r.readFrameHeader(), 3000);
  assert.deepEqual(await r.readExact(3000), payloadWithLFs);
  assert.equal(await r.readLine(SERVER_LINE_MAX), longLine);
  assert.equal(await r.readLine(3), 'x');
  assert.deepEqual(await collect(r.readToEnd()), tail);
  assert.equal(await r.readLine(SERVER_LINE_MAX), null);
  assert.ok(r.atEof);
}

test('every fixed chunk size yields identical results', async () => {
  for (const size of [1, 2, 3, 5, 7, 13, 100, 511, 512, 513, 4096, 65536, STREAM.length]) {
    const r = new LineReader(source(split(STREAM, () => size)));
    await parseAll(r);
  }
});

test('random chunkings yield identical results', async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const rnd = prng(seed);
    const max = [2, 10, 300, 5000][seed % 4]!;
    const r = new LineReader(source(split(STREAM, () => 1 + Math.floor(rnd() * max))));
    await parseAll(r);
  }
});

test('all data present before the first read (Readable.from)', async () => {
  const r = new LineReader(Readable.from(split(STREAM, () => 997)));
  await parseAll(r);
});

async function expectTooLong(p: Promise<unknown>, size: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof ProtocolError && e.message === lineTooLong(size));
}

test('line limits are exact: LF must come within size-1 bytes', async () => {
  for (const size of [SERVER_LINE_MAX, REPLY_LINE_MAX, 100, 3]) {
    const fits = 'a'.repeat(size - 2) + '\n';
    const over = 'a'.repeat(size - 1) + '\n';
    for (const chunk of [1, 64, 100_000]) {
      const ok = new LineReader(source(split(Buffer.from(fits + 'next\n'), () => chunk)));
      assert.equal(await ok.readLine(size), 'a'.repeat(size - 2));
      assert.equal(await ok.readLine(100), 'next');
      const bad = new LineReader(source(split(Buffer.from(over), () => chunk)));
      await expectTooLong(bad.readLine(size), size);
    }
  }
  assert.equal(lineTooLong(4096), 'Received line too long for buffer size (4096), giving up.');
});

test('end of file: nothing -> null; one byte -> a line; two or more -> too long (as csync2)', async () => {
  assert.equal(await new LineReader(source([])).readLine(100), null);
  assert.equal(await new LineReader(source([Buffer.from('a')])).readLine(100), 'a');
  await expectTooLong(new LineReader(source([Buffer.from('ab')])).readLine(100), 100);
  const r = new LineReader(source([Buffer.from('line\npartial')]));
  assert.equal(await r.readLine(100), 'line');
  await expectTooLong(r.readLine(100), 100);
});

test('short frames and a missing header are protocol errors', async () => {
  const short = new LineReader(source([Buffer.from('octet-stream 10\n12345')]));
  assert.equal(await short.readFrameHeader(), 10);
  await assert.rejects(collect(short.readFramePayload(10)),
    (e: unknown) => e instanceof ProtocolError && e.message === 'Read-error while receiving data.');
  const exact = new LineReader(source([Buffer.from('123')]));
  await assert.rejects(exact.readExact(4), ProtocolError);
  const none = new LineReader(source([]));
  await assert.rejects(none.readFrameHeader(),
    (e: unknown) => e instanceof ProtocolError && e.message === 'Format-error while receiving data.');
  const garbage = new LineReader(source([Buffer.from('Permission denied!\n')]));
  await assert.rejects(garbage.readFrameHeader(), ProtocolError);
});

test('a big readExact is filled in place as chunks arrive, with what follows left in order; end of file inside it is an error', async () => {
  const big = randomBytes(3 << 20);
  const rnd = prng(7);
  const r = new LineReader(source(split(Buffer.concat([Buffer.from('head\n'), big, Buffer.from('after\n')]), () => 1 + Math.floor(rnd() * 70_000))));
  assert.equal(await r.readLine(100), 'head');
  const got = await r.readExact(big.length);
  assert.ok(got.equals(big));
  assert.equal(await r.readLine(100), 'after');
  const cut = new LineReader(source(split(big.subarray(0, 2 << 20), () => 65_536)));
  await assert.rejects(cut.readExact(big.length),
    (e: unknown) => e instanceof ProtocolError && e.message === 'Read-error while receiving data.');
});

test('a stream error ends reading like end of file and is kept', async () => {
  const pt = new PassThrough();
  const r = new LineReader(pt);
  pt.write('one\ntw');
  setImmediate(() => pt.destroy(new Error('ECONNRESET-ish')));
  assert.equal(await r.readLine(100), 'one');
  await expectTooLong(r.readLine(100), 100);
  assert.equal(await r.readLine(100), null);
  assert.equal(r.lastError?.message, 'ECONNRESET-ish');
});

test('backpressure: the source is paused while the reader holds highWater bytes', async () => {
  const pt = new PassThrough({ highWaterMark: 16 * 1024 });
  const highWater = 64 * 1024;
  const r = new LineReader(pt, { highWater });
  const total = 8 * 1024 * 1024;
  const block = randomBytes(32 * 1024);
  let written = 0;
  let sawBackpressure = false;
  const writer = (async () => {
    pt.write(`octet-stream ${total}\n`);
    while (written < total) {
      written += block.length;
      if (!pt.write(block)) {
        sawBackpressure = true;
        await new Promise((res) => pt.once('drain', res));
      }
    }
    pt.end('BYE\n');
  })();
  // Let the writer run ahead while nobody reads.
  await new Promise((res) => setTimeout(res, 50));
  assert.ok(r.bufferedLength <= highWater + block.length, `buffered ${r.bufferedLength}`);
  assert.ok(written < total, 'writer must be held back');
  assert.equal(await r.readFrameHeader(), total);
  let got = 0;
  let maxBuffered = 0;
  for await (const c of r.readFramePayload(total)) {
    got += c.length;
    maxBuffered = Math.max(maxBuffered, r.bufferedLength);
  }
  assert.equal(got, total);
  assert.ok(maxBuffered <= highWater + block.length, `max buffered ${maxBuffered}`);
  assert.equal(await r.readLine(100), 'BYE');
  await writer;
  assert.ok(sawBackpressure);
});

test('takeBuffered hands over unread bytes in order and detaches', async () => {
  const pt = new PassThrough();
  const r = new LineReader(pt);
  pt.write('SSL\n\x16\x03\x01 hello');
  assert.equal(await r.readLine(SERVER_LINE_MAX), 'SSL');
  const rest = r.takeBuffered();
  assert.equal(rest.toString('latin1'), '\x16\x03\x01 hello');
  assert.equal(pt.listenerCount('data'), 0);
  pt.write('later');
  assert.equal(pt.read()?.toString(), 'later', 'later bytes stay in the source');
  await assert.rejects(r.readLine(10));
});

test('wire tap sees received lines and 512-byte payload pieces', async () => {
  const seen: string[] = [];
  const data = Buffer.concat([Buffer.from('OK (data_follows).\noctet-stream 1000\n'), Buffer.alloc(1000, 0x41)]);
  const r = new LineReader(source(split(data, () => 7)), {
    tap: (dir, bytes) => seen.push(`${dir}:${bytes.length}`),
  });
  await r.readLine(100);
  const n = await r.readFrameHeader();
  await collect(r.readFramePayload(n));
  assert.equal(seen[0], 'Peer:19');
  assert.equal(seen[1], 'Peer:18');
  const payloadBytes = seen.slice(2).reduce((a, s) => a + Number(s.split(':')[1]), 0);
  assert.equal(payloadBytes, 1000);
});

test('bytes held in a paused source are still delivered when it is destroyed', async () => {
  const pt = new PassThrough();
  const r = new LineReader(pt, { highWater: 4 });
  pt.write('first line\n'); // over highWater: the reader pauses the source
  await new Promise((res) => setImmediate(res));
  pt.write('second\n'); // stays in the paused source's own buffer
  await new Promise((res) => setImmediate(res));
  pt.destroy();
  assert.equal(await r.readLine(100), 'first line');
  assert.equal(await r.readLine(100), 'second');
  assert.equal(await r.readLine(100), null);
});
