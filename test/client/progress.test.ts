/**
 * The progress line: shown on a terminal for a big push without -v (peer, files, bytes, rate,
 * redrawn with \r and cleared at the end), never when stderr is not a terminal (cron) or with -v.
 * The terminal is a real pty from util-linux `script`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCluster, formatRun, implCommand, type Cluster, type Daemon, type TestHost,
} from '../helpers/index.js';

const FILES = 2100; // above the 2000-file threshold

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

describe('progress display', { concurrency: false }, () => {
  let cluster: Cluster;
  let client: TestHost;
  let server: TestHost;
  let daemon: Daemon;

  before(async () => {
    cluster = await createCluster({ hosts: [{ impl: 'ours' }, { impl: 'ours' }] });
    [client, server] = cluster.hosts as [TestHost, TestHost];
    daemon = await server.startDaemon({ mode: '-ii', verbose: 0, lifetimeMs: 0 });
  });
  after(async () => {
    await daemon?.stop();
    await cluster.cleanup();
  });

  async function writeBatch(tag: string): Promise<void> {
    for (let i = 0; i < FILES; i++) await client.write(`${tag}/d${i % 20}/f${i}.txt`, `${tag} ${i}\n`);
    const r = await client.run(['-cr', '/']);
    assert.equal(r.code, 0, formatRun(r));
  }

  /** `csync2 ARGS` with stderr (and stdout) on a pty; returns what the terminal received. */
  async function onTerminal(args: string[]): Promise<string> {
    const cmd = [...implCommand('ours'), ...client.baseArgs(), ...args].map(shellQuote).join(' ');
    const r = await cluster.tracker.run(['script', '-qefc', cmd, '/dev/null'], {
      env: client.env({ COLUMNS: '200' }), cwd: client.root, timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, formatRun(r));
    return r.stdout.toString('latin1');
  }

  it('a big push on a terminal shows a redrawn line with peer, files, bytes and rate, then clears it', async () => {
    await writeBatch('tty');
    const seen = await onTerminal(['-u']);
    const line = new RegExp(`${server.name.replace(/\./g, '\\.')}: (\\d+)/(\\d+) files, [0-9.]+ [KM]iB sent, [0-9.]+ [KM]iB/s`, 'g');
    const draws = [...seen.matchAll(line)];
    assert.ok(draws.length >= 2, `no redrawn progress line in ${JSON.stringify(seen.slice(0, 400))}`);
    // The total counts every dirty entry (files and their directories); the count only grows.
    const total = Number(draws[0]![2]);
    assert.ok(total >= FILES, `total ${total} < ${FILES}`);
    const counts = draws.map((m) => Number(m[1]));
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'the file count never goes back');
    assert.ok(counts[counts.length - 1]! > counts[0]!, 'the count advances');
    assert.ok(seen.includes('\r'), 'the line is redrawn in place');
    assert.ok(seen.endsWith('\x1b[K') || seen.trimEnd().endsWith('\x1b[K'), 'the line is cleared at the end');
    assert.deepEqual(await client.dump('dirty'), []);
  });

  it('not with -v on a terminal, and never when stderr is not a terminal', async () => {
    await writeBatch('verbose');
    const seen = await onTerminal(['-uv']);
    assert.doesNotMatch(seen, /files, .*\/s/, 'no progress line with -v');
    assert.match(seen, /Updating %data%\/verbose\//);
    await writeBatch('cron');
    const r = await client.run(['-u']);
    assert.equal(r.code, 0, formatRun(r));
    const text = r.stdout.toString('latin1') + r.stderr.toString('latin1');
    assert.equal(text, '', 'a cron run prints nothing');
  });
});
