/**
 * -TT (update.c csync_diff): fetch the peer's copy of one file with TYPE on a
 * connection of its own and pipe it into csync2's diff command, run by
 * `sh -c` with the labels and the local path in the environment (so no name is
 * ever parsed by the shell):
 *
 *     diff -Nus --label "$peer_label" - --label "$my_label" "$diff_file"
 *
 * The peer's copy is the `---` side. Each value is cut to 511 bytes like the
 * C snprintf into a 512-byte buffer. Diff writes straight to our stdout.
 */
import { spawn } from 'node:child_process';
import { prefixSubst } from '../config/prefix.js';
import { connectToHost, connectionFailedMessage, isOkStatus, type HostConnectOptions } from '../net/client.js';
import { print } from '../cli/output.js';
import { urlEncode } from '../protocol/urlencode.js';
import { toBuf, type BStr } from '../util/bytes.js';
import { errorCount, log } from '../util/log.js';
import type { RunContext } from './context.js';

export const DIFF_COMMAND = 'diff -Nus --label "$peer_label" - --label "$my_label" "$diff_file"';
const VALUE_MAX = 511;

export type Connector = (peer: BStr) => HostConnectOptions;

/**
 * One file against one peer. Problems are counted and logged as csync2 does;
 * nothing is returned (csync_diff always returns 0).
 */
export async function diffWithPeer(ctx: RunContext, connect: Connector, myname: BStr, peer: BStr, file: BStr): Promise<void> {
  let key: BStr | null = null;
  for (let g = ctx.matcher.findNext(file, null); g; g = ctx.matcher.findNext(file, g)) {
    if (g.myname !== myname) continue;
    if (g.hosts.some((h) => h.name === peer)) {
      key = g.key;
      break;
    }
  }
  if (key === null) {
    log.debug(0, 'Host pair + file not found in configuration.');
    errorCount.value++;
    return;
  }

  const link = await connectToHost(connect(peer));
  if (!link) {
    errorCount.value++;
    log.debug(0, connectionFailedMessage(peer));
    return;
  }
  try {
    link.send(`HELLO ${myname}`);
    if (!isOkStatus(await link.readStatus(null))) return;
    link.send(`TYPE ${urlEncode(key)} ${urlEncode(file)}`);
    if (!isOkStatus(await link.readStatus(null))) return;

    const values = {
      my_label: cut(`${myname}:${file}`),
      peer_label: cut(`${peer}:${file}`),
      diff_file: cut(prefixSubst(ctx.cfg, file)),
    };
    const complete = await pipeToDiff(link.conn.reader.readToEnd(), values);
    if (!complete) print('*** output to diff truncated\n');
  } finally {
    await link.close();
  }
}

function cut(s: BStr): BStr {
  return s.length > VALUE_MAX ? s.slice(0, VALUE_MAX) : s;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The value as a JS string Node will turn back into exactly these bytes, or null if there is none. */
function envText(s: BStr): string | null {
  try {
    return strictUtf8.decode(toBuf(s));
  } catch {
    return null;
  }
}

/** Octal escapes for printf %b: every byte outside printable ASCII, and the backslash. */
function printfEscaped(s: BStr): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 0x20 || c >= 0x7f || c === 0x5c ? `\\0${c.toString(8).padStart(3, '0')}` : s[i];
  }
  return out;
}

/**
 * The environment and the command for sh. Node can only pass UTF-8 text to a
 * child, so a value whose bytes are not valid UTF-8 travels octal-escaped and
 * the shell rebuilds the exact bytes with printf before running diff (the
 * trailing `_` keeps a final newline from being eaten by `$(...)`).
 */
export function diffInvocation(values: Record<string, BStr>): { env: NodeJS.ProcessEnv; command: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  let prelude = '';
  for (const [name, value] of Object.entries(values)) {
    const text = envText(value);
    if (text !== null) {
      env[name] = text;
    } else {
      env[`${name}_escaped`] = printfEscaped(value);
      prelude += `${name}=$(printf '%b_' "$${name}_escaped"); ${name}=\${${name}%_}; `;
    }
  }
  return { env, command: prelude + DIFF_COMMAND };
}

/**
 * Streams the chunks into diff's stdin and waits for diff to exit (glibc's
 * fclose on a popen stream waits too). Resolves false when diff stopped taking
 * input before the peer's data ended.
 */
async function pipeToDiff(chunks: AsyncIterable<Buffer>, values: Record<string, BStr>): Promise<boolean> {
  const { env, command } = diffInvocation(values);
  const child = spawn('/bin/sh', ['-c', command], { env, stdio: ['pipe', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  const stdin = child.stdin!;
  let broken = false;
  stdin.on('error', () => { broken = true; });
  let complete = true;
  for await (const chunk of chunks) {
    if (broken || stdin.destroyed) {
      complete = false;
      break;
    }
    if (!stdin.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          stdin.off('drain', done);
          stdin.off('close', done);
          resolve();
        };
        stdin.on('drain', done);
        stdin.on('close', done);
      });
    }
  }
  stdin.end();
  await exited;
  return complete;
}
