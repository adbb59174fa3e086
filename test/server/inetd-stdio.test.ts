/**
 * `csync2 -i` with a socket pair as stdin/stdout (what Node gives a child for 'pipe' stdio), ours
 * and the real one (twin.ts): the session runs on fd 0/1, nothing but replies reaches stdout, a
 * peer without an IP address is a "stranger" whom HELLO cannot identify, and the session ends at
 * BYE (or at the wrong first line) with the same exit codes.
 */
import assert from 'node:assert/strict';
import { twinTest } from './twin.js';
import type { TestHost } from '../helpers/index.js';

async function stdioSession(host: TestHost, lines: string[], extra: string[] = []): Promise<{ replies: string[]; code: number | null }> {
  const proc = host.spawn(['-i', '-v', ...extra], { stdin: 'pipe' });
  const stdin = proc.child.stdin!;
  stdin.on('error', () => { /* the daemon may be gone already */ });
  let out = '';
  const waiters: (() => void)[] = [];
  proc.child.stdout!.on('data', (c: Buffer) => {
    out += c.toString('latin1');
    waiters.splice(0).forEach((w) => w());
  });
  const replies: string[] = [];
  const nextLine = async (): Promise<string | null> => {
    const deadline = Date.now() + 5000;
    while (!out.includes('\n')) {
      if (!proc.running || Date.now() > deadline) return null;
      await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 50); });
    }
    const nl = out.indexOf('\n');
    const line = out.slice(0, nl);
    out = out.slice(nl + 1);
    return line;
  };
  for (const l of lines) {
    if (!proc.running) break;
    stdin.write(l + '\n');
    const r = await nextLine();
    if (r === null) break;
    replies.push(r);
  }
  stdin.end();
  const result = await proc.exited;
  if (out !== '') replies.push(`[unread] ${out}`);
  return { replies, code: result.code };
}

twinTest('-i on a socket pair: a stranger is served but never identified; BYE ends the session', { tls: false }, async (t) => {
  const key = t.cluster.key.trim();
  const s = await stdioSession(t.server, ['CONFIG ', `HELLO ${t.client.name}`, `SIG ${key} %25data%25`, 'GROUP test', 'NOSUCH', 'BYE']);
  assert.deepEqual(s.replies, ['OK (cmd_finished).', 'Identification failed!', 'Dear stranger, please identify first.',
    'OK (cmd_finished).', 'Unknown command!', 'OK (cu_later).']);
  assert.equal(s.code, 0);
  t.note('session', s);
});

twinTest('-i on a socket pair: a wrong first line is answered and ends the session', { tls: false }, async (t) => {
  const s = await stdioSession(t.server, ['HELLO x', 'CONFIG ']);
  assert.deepEqual(s.replies, ['Expecting SSL (optional) and CONFIG as first commands.']);
  t.note('session', s);
  const bad = await stdioSession(t.server, ['CONFIG Bad_Name']);
  assert.deepEqual(bad.replies, ['Config names are limited to [a-z0-9]+.']);
  t.note('bad name', bad);
});
