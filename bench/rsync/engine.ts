/**
 * In-process timing of our engine (what a long-running csync2 process pays per
 * file, without node's start-up): best of N runs of signature, delta and patch
 * on the files bench/rsync/run.sh made.
 *   node dist/bench/rsync/engine.js DIR RUNS   -> prints "sig_s delta_s patch_s"
 */
import { closeSync, createReadStream, openSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { deltaFile, parseSignature, patchToFile, signatureOfFile } from '../../src/rsync/index.js';

const [dir, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 3);

async function best(fn: () => Promise<unknown>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    min = Math.min(min, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return min;
}

function freshFd(path: string): number {
  try { unlinkSync(path); } catch { /* not there yet */ }
  return openSync(path, 'w');
}

const sigSeconds = await best(() => signatureOfFile(join(dir, 'basis')));
const sig = parseSignature(readFileSync(join(dir, 'rd.sig')));
const deltaSeconds = await best(async () => {
  const fd = freshFd(join(dir, 'engine.delta'));
  await deltaFile(sig, join(dir, 'new'), fd);
  closeSync(fd);
});
const patchSeconds = await best(async () => {
  const fd = freshFd(join(dir, 'engine.out'));
  await patchToFile(join(dir, 'basis'), createReadStream(join(dir, 'rd.delta'), { highWaterMark: 1 << 20 }), fd);
  closeSync(fd);
});
process.stdout.write(`${sigSeconds.toFixed(3)} ${deltaSeconds.toFixed(3)} ${patchSeconds.toFixed(3)}\n`);
