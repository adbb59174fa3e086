/**
 * Syslog datagram catchers for the logging tests.
 *
 * - `catchDatagrams(path)`: a unix datagram socket at `path`, as /dev/log is (our `-l` is pointed at it
 *   with CSYNC2_SYSLOG_SOCKET). Node has no unix datagram sockets, so a small perl program (perl-base
 *   is Essential on Debian) binds it and prints each datagram on one line (backslash and newline
 *   escaped), so message boundaries survive.
 * - `runWithDevLog(argv)`: runs a command in a private mount namespace whose /dev/log is such a
 *   catcher. The real csync2 logs through glibc's syslog(), which only knows /dev/log: this is how the
 *   tests see what it sends, without touching the machine's /dev. Needs root or unprivileged user
 *   namespaces (`unshare --user --map-root-user`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { sleep } from '../helpers/net.js';

/** One parsed datagram: `<PRI>Mmm dd hh:mm:ss ident[pid]: text`. */
export interface SyslogMessage {
  raw: string;
  facility: number;
  severity: number;
  /** `Mmm dd hh:mm:ss` as sent. */
  stamp: string;
  ident: string;
  pid: number;
  /** The message text as sent (csync2's keeps its final newline). */
  text: string;
}

export const LOG_LOCAL0 = 16;

/** Children die with the test process even on SIGKILL (as in test/helpers/procs.ts). */
const DIE_WITH_US = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'SIGKILL'] : [];

function spawnTied(argv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const [file, ...args] = [...DIE_WITH_US, ...argv];
  return spawn(file!, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}
export const SEVERITY = { err: 3, warning: 4, info: 6, debug: 7 } as const;

const HEADER = /^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) ([^[\]: ]+)\[(\d+)\]: ([\s\S]*)$/;

export function parseDatagram(raw: string): SyslogMessage {
  const m = HEADER.exec(raw);
  if (!m) throw new Error(`not a syslog datagram in the local format: ${JSON.stringify(raw)}`);
  const pri = Number(m[1]);
  return { raw, facility: pri >> 3, severity: pri & 7, stamp: m[2]!, ident: m[3]!, pid: Number(m[4]), text: m[5]! };
}

/** The perl catcher: prints READY once bound, then one escaped line per datagram. */
const CATCHER = String.raw`
use strict; use Socket;
my $path = shift;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
unlink $path;
bind($s, pack_sockaddr_un($path)) or die "bind $path: $!";
$| = 1; print "READY\n";
my $m;
while (defined(recv($s, $m, 65536, 0))) { $m =~ s/\\/\\\\/g; $m =~ s/\n/\\n/g; print "$m\n"; }
`;

function unescape(line: string): string {
  return line.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

function datagramsOf(output: string): string[] {
  return output.split('\n').filter((l) => l !== '' && l !== 'READY').map(unescape);
}

export interface DatagramCatcher {
  path: string;
  /** Every datagram received so far, parsed. */
  messages(): SyslogMessage[];
  /** Waits until `done(messages)` holds (or throws after `timeoutMs`, listing what came). */
  waitFor(done: (messages: SyslogMessage[]) => boolean, timeoutMs?: number): Promise<SyslogMessage[]>;
  close(): Promise<void>;
}

export async function catchDatagrams(path: string): Promise<DatagramCatcher> {
  const child = spawnTied(['perl', '-e', CATCHER, path]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString('latin1'); });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString('latin1'); });
  const deadline = Date.now() + 10_000;
  while (!out.startsWith('READY\n')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
      throw new Error(`datagram catcher did not start on ${path}: ${err}`);
    }
    await sleep(10);
  }
  const messages = (): SyslogMessage[] => datagramsOf(out).map(parseDatagram);
  return {
    path,
    messages,
    waitFor: async (done, timeoutMs = 10_000) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const got = messages();
        if (done(got)) return got;
        if (Date.now() > end) throw new Error(`syslog lines did not arrive in time; got:\n${got.map((m) => m.raw).join('\n')}`);
        await sleep(20);
      }
    },
    close: async () => {
      const gone = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
      await gone;
      rmSync(path, { force: true });
    },
  };
}

/** How this user gets a private mount namespace: root directly, others through a user namespace. */
function unshareArgs(): string[] {
  const own = ['--mount', '--fork', '--kill-child'];
  return process.getuid?.() === 0 ? own : ['--user', '--map-root-user', ...own];
}

/** True when runWithDevLog can work here (checked once; the tests say so when it cannot). */
export function canUseDevLogNamespace(): boolean {
  return spawnSync('unshare', [...unshareArgs(), 'true'], { stdio: 'ignore' }).status === 0;
}

/**
 * The script run inside the namespace: keep the real devices reachable through a bind mount, put a
 * tmpfs on /dev with links to them, bind the catcher to /dev/log, run the command, then send an end
 * marker through /dev/log and wait for it, so every datagram of the command has been read.
 */
const NAMESPACE_SCRIPT = String.raw`
set -eu
old=$1; out=$2; catcher=$3; shift 3
mount --bind /dev "$old"
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero full random urandom tty; do [ ! -e "$old/$n" ] || ln -s "$old/$n" "/dev/$n"; done
ln -s /proc/self/fd /dev/fd
: > "$out"  # exists before the wait below looks (else grep complains on the command's stderr)
setpriv --pdeathsig SIGKILL perl -e "$catcher" /dev/log > "$out" &
cp=$!
while ! grep -qx READY "$out"; do sleep 0.02; done
code=0
"$@" || code=$?
logger -u /dev/log -t devlog-end end-of-run
while ! grep -q 'devlog-end' "$out"; do sleep 0.02; done
kill "$cp"
exit "$code"
`;

export interface DevLogRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What the command sent to /dev/log (the end marker removed). */
  messages: SyslogMessage[];
}

/** Starts `argv` in its own mount namespace with a catching /dev/log; `dir` holds the scratch files. */
export function startWithDevLog(argv: string[], dir: string, env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<DevLogRun> } {
  const old = `${dir}/olddev`;
  const out = `${dir}/devlog.out`;
  spawnSync('mkdir', ['-p', old]);
  const child = spawnTied(['unshare', ...unshareArgs(), 'bash', '-c', NAMESPACE_SCRIPT, 'devlog', old, out, CATCHER, ...argv], env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString('latin1'); });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString('latin1'); });
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 30_000);
  const done = new Promise<DevLogRun>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      let text = '';
      try { text = readFileSync(out, 'latin1'); } catch { /* never started */ }
      const messages = datagramsOf(text).filter((d) => !d.includes(' devlog-end: ')).map(parseDatagram);
      resolve({ code, stdout, stderr, messages });
    });
  });
  return { child, done };
}

export function runWithDevLog(argv: string[], dir: string, env: NodeJS.ProcessEnv): Promise<DevLogRun> {
  return startWithDevLog(argv, dir, env).done;
}
