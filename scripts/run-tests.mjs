#!/usr/bin/env node
// Runs the compiled node:test files with TAP output and ends with the
// `# pass N` / `# fail M` summary lines. A skipped or todo test counts as a
// failure: the suite never skips silently.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('run-tests: no test files given (did the build run?)');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? String(Math.max(2, availableParallelism()));
const child = spawn(process.execPath,
  ['--test', '--test-reporter=tap', `--test-concurrency=${concurrency}`, ...files],
  { stdio: ['ignore', 'pipe', 'inherit'] });

const counts = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
let pending = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  pending += chunk.toString('utf8');
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const m = /^# (pass|fail|skipped|todo|cancelled) (\d+)$/.exec(line);
    if (m) counts[m[1]] = Number(m[2]);
  }
});
child.on('close', (code) => {
  const failed = counts.fail + counts.cancelled + counts.skipped + counts.todo;
  console.log(`# pass ${counts.pass}`);
  console.log(`# fail ${failed}`);
  process.exit(code !== 0 || failed > 0 ? 1 : 0);
});
