import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng, runProc, tempDir } from './fixtures.js';

const PROBE = fileURLToPath(new URL('./rss-probe.js', import.meta.url));
const SIZE = 512 * 1024 * 1024;

/** A sparse file of `size` bytes with random islands at the given offsets. */
function sparseFile(path: string, size: number, islands: number[], rng: Rng): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    for (const at of islands) writeSync(fd, rng.bytes(100_000), 0, 100_000, at);
  } finally {
    closeSync(fd);
  }
}

test('signature, delta and patch of a 512 MiB file keep the process under 100 MB RSS', { timeout: 180_000 }, async (t) => {
  const { dir, cleanup } = tempDir('rss');
  try {
    const rng = new Rng(77);
    sparseFile(join(dir, 'basis'), SIZE, [0, 100 << 20, 400 << 20], rng);
    sparseFile(join(dir, 'new'), SIZE + 12345, [50 << 20, 100 << 20, 300 << 20, SIZE + 12345 - 100_000], rng);
    const r = await runProc(process.execPath, [PROBE, join(dir, 'basis'), join(dir, 'new'), dir], 170_000);
    assert.equal(r.code, 0, r.stderr);
    const { maxRssKiB, sigBytes } = JSON.parse(r.stdout.toString()) as { maxRssKiB: number; sigBytes: number };
    assert.equal(sigBytes, 12 + 20 * (SIZE / 2048));
    assert.equal(statSync(join(dir, 'probe.out')).size, SIZE + 12345);
    // Spot-check the patched file against the new one where the edits are.
    const fdA = openSync(join(dir, 'probe.out'), 'r'), fdB = openSync(join(dir, 'new'), 'r');
    try {
      for (const at of [0, 50 << 20, 100 << 20, 300 << 20, SIZE - 10]) {
        const a = Buffer.alloc(120_000), b = Buffer.alloc(120_000);
        readFileSyncAt(fdA, a, at);
        readFileSyncAt(fdB, b, at);
        assert.ok(a.equals(b), `patched file differs near ${at}`);
      }
    } finally {
      closeSync(fdA);
      closeSync(fdB);
    }
    t.diagnostic(`peak RSS ${Math.round(maxRssKiB / 1024)} MB`);
    assert.ok(maxRssKiB < 100 * 1024, `peak RSS ${Math.round(maxRssKiB / 1024)} MB`);
  } finally {
    cleanup();
  }
});

function readFileSyncAt(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) break;
    off += n;
  }
}
