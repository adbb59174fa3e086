/** LineWriter: exact bytes, frames from buffers/iterables/files, size checks, backpressure, dead peers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { LineWriter } from '../../src/protocol/linewriter.js';
import { LineReader } from '../../src/protocol/linereader.js';
import { ProtocolError } from '../../src/util/errors.js';

function sink(): { pt: PassThrough; bytes: () => Buffer } {
  const pt = new PassThrough();
  const parts: Buffer[] = [];
  pt.on('data', (c: Buffer) => parts.push(c));
  return { pt, bytes: () => Buffer.concat(parts) };
}

test('lines, text, raw bytes and frames come out byte-exact', async () => {
  const { pt, bytes } = sink();
  const w = new LineWriter(pt);
  const big = randomBytes(100_000);
  await w.sendLine('OK (path_not_found).');
  await w.sendText('---\noctet-stream 0\n');
  await w.sendLine('SIG KEY %25data%25/\xe9');
  await w.sendFrame(Buffer.from('abc'));
  await w.sendFrame(Buffer.alloc(0));
  await w.sendFrame(big);
  await w.sendFrameError();
  await w.sendFrameFrom([Buffer.from('12'), Buffer.alloc(0), Buffer.from('345')], 5);
  await w.sendRaw(Buffer.from([0, 255]));
  await w.end();
  const expected = Buffer.concat([
    Buffer.from('OK (path_not_found).\n---\noctet-stream 0\nSIG KEY %25data%25/\xe9\n', 'latin1'),
    Buffer.from('octet-stream 3\nabcoctet-stream 0\n'),
    Buffer.from('octet-stream 100000\n'), big,
    Buffer.from('octet-stream -1\noctet-stream 5\n12345'), Buffer.from([0, 255]),
  ]);
  assert.deepEqual(bytes(), expected);
});

test('sendFrameFrom checks the announced size', async () => {
  const w = new LineWriter(sink().pt);
  await assert.rejects(w.sendFrameFrom([Buffer.from('1234')], 5),
    (e: unknown) => e instanceof ProtocolError && e.message === 'Read-error while sending data.');
  await assert.rejects(w.sendFrameFrom([Buffer.from('123456')], 5), ProtocolError);
});

test('sendFrameFromFile streams a file, and a short file is an error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csync2-ts-lw-'));
  try {
    const content = randomBytes(700_000);
    const file = join(dir, 'f');
    writeFileSync(file, content);
    const { pt, bytes } = sink();
    const w = new LineWriter(pt);
    const fd = openSync(file, 'r');
    await w.sendFrameFromFile(fd, content.length);
    closeSync(fd);
    assert.deepEqual(bytes(), Buffer.concat([Buffer.from(`octet-stream ${content.length}\n`), content]));
    const fd2 = openSync(file, 'r');
    await assert.rejects(new LineWriter(sink().pt).sendFrameFromFile(fd2, content.length + 1), ProtocolError);
    closeSync(fd2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a big frame over TCP waits for drain instead of buffering it all', async () => {
  const server = net.createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.10.3', res));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((res) => server.once('connection', res));
  const client = net.connect(port, '127.0.10.3');
  const peer = await accepted;
  try {
    const w = new LineWriter(client);
    const r = new LineReader(peer, { highWater: 256 * 1024 });
    const total = 64 * 1024 * 1024;
    const block = Buffer.alloc(1024 * 1024, 0x5a);
    let maxQueued = 0;
    async function* blocks(): AsyncGenerator<Buffer> {
      for (let sent = 0; sent < total; sent += block.length) {
        maxQueued = Math.max(maxQueued, client.writableLength);
        yield block;
      }
    }
    const sending = w.sendFrameFrom(blocks(), total);
    assert.equal(await r.readFrameHeader(), total);
    let got = 0;
    for await (const c of r.readFramePayload(total)) {
      got += c.length;
      if (got % (8 * 1024 * 1024) < c.length) await new Promise((res) => setTimeout(res, 5)); // a slow reader
    }
    await sending;
    assert.equal(got, total);
    // Never more than about one block beyond the socket's high-water mark is queued in memory.
    assert.ok(maxQueued <= client.writableHighWaterMark + block.length, `queued ${maxQueued}`);
  } finally {
    client.destroy();
    peer.destroy();
    server.close();
  }
});

test('writes to a dead peer: lines are silently dropped, frames throw Write-error', async () => {
  const pt = new PassThrough();
  const w = new LineWriter(pt);
  pt.destroy();
  await new Promise((res) => setImmediate(res));
  assert.ok(w.failed);
  await w.sendLine('OK (cmd_finished).');
  await assert.rejects(w.sendFrame(Buffer.from('x')),
    (e: unknown) => e instanceof ProtocolError && e.message === 'Write-error while sending data.');
});

test('wire tap sees each write, payload in 512-byte pieces', async () => {
  const seen: number[] = [];
  const w = new LineWriter(sink().pt, { tap: (dir, b) => { assert.equal(dir, 'Local'); seen.push(b.length); } });
  await w.sendLine('PATCH K F');
  await w.sendFrame(Buffer.alloc(1200));
  assert.deepEqual(seen, [10, 'octet-stream 1200\n'.length, 512, 512, 176]);
});
