/**
 * A daemon that claims a huge signature (update-rsync.ts peerSignatureCap): the frame header's
 * size is the peer's word, and the client used to read all of it into memory, after SIG and
 * again after PATCH. It now reads such a signature and drops it, and sends the file as literals
 * (a delta against it could not be smaller). The daemon here is a script speaking csync2's
 * protocol without TLS (as a real csync2 daemon with `nossl`: no extensions, so PATCH is used).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { createCluster, formatRun, type Cluster, type TestHost } from '../helpers/index.js';

/** More than the client keeps (64 MiB) and more than the bound the test sets on its memory. */
const CLAIMED = 160 << 20;
const RSS_LIMIT_KB = 200 * 1024;

let c: Cluster;
let a: TestHost;
let b: TestHost;

before(async () => {
  c = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }], tls: false });
  [a, b] = c.hosts as [TestHost, TestHost];
});

after(() => c.cleanup());

/** The client's peak memory so far (kB). */
function peakKb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface Seen {
  commands: string[];
  /** The delta frame the client sent after PATCH. */
  delta: Buffer | null;
  /** The client's peak memory when its delta had arrived. */
  peakKb: number;
}

/**
 * Answers every command with `OK (cmd_finished).`, except SIG (a regular file of CLAIMED
 * bytes' signature: that many zero bytes) and PATCH (the same frame, then reads the delta).
 */
function hostileDaemon(sock: Socket, clientPid: () => number, seen: Seen): void {
  let buf = Buffer.alloc(0);
  let wantFrame = -1;
  const zeros = Buffer.alloc(1 << 20);
  const sendHuge = async (): Promise<void> => {
    sock.write(`octet-stream ${CLAIMED}\n`);
    for (let left = CLAIMED; left > 0; left -= zeros.length) {
      if (!sock.write(zeros.subarray(0, Math.min(zeros.length, left)))) await new Promise((r) => sock.once('drain', r));
    }
  };
  let queue = Promise.resolve();
  const step = (): void => {
    for (;;) {
      if (wantFrame >= 0) {
        if (buf.length < wantFrame) return;
        seen.delta = buf.subarray(0, wantFrame);
        seen.peakKb = peakKb(clientPid());
        buf = buf.subarray(wantFrame);
        wantFrame = -1;
        queue = queue.then(() => { sock.write('OK (cmd_finished).\n'); });
        continue;
      }
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      const line = buf.subarray(0, nl).toString('latin1');
      buf = buf.subarray(nl + 1);
      const frame = /^octet-stream (\d+)$/.exec(line);
      if (frame) {
        wantFrame = Number(frame[1]);
        continue;
      }
      seen.commands.push(line);
      const cmd = line.split(' ')[0]!.toUpperCase();
      queue = queue.then(async () => {
        if (cmd === 'SIG') {
          sock.write(`OK (data_follows).\nv1:mtime=1:mode=33188:user=0:group=0:type=reg:size=${CLAIMED * 100}\n`);
          await sendHuge();
          sock.write('OK (cmd_finished).\n');
        } else if (cmd === 'PATCH') {
          sock.write('OK (send_data).\n');
          await sendHuge();
        } else {
          sock.write('OK (cmd_finished).\n');
        }
      });
    }
  };
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    step();
  });
  sock.on('error', () => undefined);
}

test('a huge signature from the peer is dropped, not held, and the file goes as literals', async () => {
  const content = randomBytes(3 << 20);
  await a.write('big.bin', content);
  const seen: Seen = { commands: [], delta: null, peakKb: NaN };
  let pid = 0;
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    hostileDaemon(s, () => pid, seen);
  });
  await new Promise<void>((resolve) => server.listen(b.port, b.name, resolve));
  try {
    const proc = a.spawn(['-xvv']);
    pid = proc.pid;
    const r = await proc.exited;
    const err = r.stderr.toString('latin1');
    assert.equal(r.code, 0, formatRun(r));
    assert.ok(seen.commands.some((l) => l.startsWith('SIG ') && l.endsWith('/big.bin')), seen.commands.join('\n'));
    assert.ok(seen.commands.some((l) => l.startsWith('PATCH ') && l.endsWith('/big.bin')), seen.commands.join('\n'));
    assert.match(err, new RegExp(`Peer's signature of ${CLAIMED} bytes is more than \\d+: not kept\\.`));
    assert.match(err, new RegExp(`Peer's signature of ${CLAIMED} bytes is more than \\d+: sending literal data\\.`));
    // librsync's delta magic, then the whole file as literal data.
    assert.ok(seen.delta !== null, 'no delta arrived');
    assert.equal(seen.delta.readUInt32BE(0), 0x72730236);
    assert.ok(seen.delta.length > content.length && seen.delta.length < content.length + 16, `delta of ${seen.delta.length} bytes`);
    assert.ok(seen.delta.includes(content), 'the delta holds the file as literals');
    assert.ok(seen.peakKb < RSS_LIMIT_KB, `client peak memory ${seen.peakKb} kB`);
    assert.deepEqual(await a.sql(`SELECT filename FROM dirty WHERE peername = '${b.name}'`), []);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
