/**
 * Syslog for -l and -i (ident `csync2`, LOG_PID, facility LOCAL0), as csync2's
 * openlog("csync2", LOG_ODELAY|LOG_PID, LOG_LOCAL0). Node has no unix datagram
 * sockets, so the lines go through one util-linux `logger` child started on the
 * first message: `logger --prio-prefix` reads `<PRI>text` lines from its stdin
 * and sends each to /dev/log with our pid. CSYNC2_SYSLOG_SOCKET overrides the
 * socket path (tests point it at their own datagram socket).
 *
 * What arrives is what glibc's syslog() sends for csync2: `<PRI>Mmm dd hh:mm:ss csync2[pid]: text`
 * on a datagram socket (logger falls back to a stream socket), PRI = LOCAL0 | severity. Two
 * differences: logger drops the text's final newline (csync2 sends it; syslog daemons strip it), and
 * a message of several lines becomes one message per line.
 *
 * Sessions of a `-ii` daemon: csync2 forks one process per connection, so each session's lines carry
 * its own pid in the header. Our sessions share one process, so the header has the daemon's pid and
 * the text starts with the session's id, `<id> `, as on stderr. `-i` and `-iii` serve one session in
 * the process: the header's pid is the session's, no prefix (like csync2).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { currentSessionId, type SyslogSink } from './log.js';
import type { BStr } from './bytes.js';

const LOG_LOCAL0 = 16 << 3;
const LOG_ERR = 3;
const LOG_WARNING = 4;
const LOG_INFO = 6;
const LOG_DEBUG = 7;
/** Below the default socket send buffer (net.core.wmem_default, 208 KiB), so one datagram carries it. */
const MAX_MESSAGE = 65536;

/** csync2's mapping of its levels to syslog priorities. */
export function syslogPriority(level: number): number {
  const sev = level < 0 ? LOG_ERR : level === 0 ? LOG_WARNING : level === 1 ? LOG_INFO : LOG_DEBUG;
  return LOG_LOCAL0 | sev;
}

/** `<id> ` inside a session that is not this process's only one (a `-ii` daemon's), else ''. */
export function sessionPrefix(pid: number = process.pid): string {
  const id = currentSessionId();
  return id !== undefined && id !== 0 && id !== pid ? `<${id}> ` : '';
}

export class LoggerProcessSink implements SyslogSink {
  private child: ChildProcess | null = null;
  private failed = false;

  constructor(private readonly pid: number = process.pid,
    private readonly socket: string = process.env['CSYNC2_SYSLOG_SOCKET'] ?? '/dev/log') {}

  write(level: number, text: BStr): void {
    if (this.failed) return;
    const child = this.start();
    if (!child?.stdin) return;
    const pri = syslogPriority(level);
    const prefix = sessionPrefix(this.pid);
    // One syslog message per line, like vsyslog() of a message that ends in a newline.
    const lines = text.split('\n').filter((l) => l.length > 0).map((l) => `<${pri}>${prefix}${l}\n`).join('');
    if (lines) child.stdin.write(Buffer.from(lines, 'latin1'));
  }

  private start(): ChildProcess | null {
    if (this.child) return this.child;
    try {
      // --size: logger splits longer lines into several messages (default 1 KiB); syslog() never
      // splits, and csync2 logs whole certificates in hex (~1.7 KiB) on one line.
      this.child = spawn('logger', ['--prio-prefix', '-t', 'csync2', `--id=${this.pid}`, '-u', this.socket,
        '--socket-errors=off', `--size=${MAX_MESSAGE}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    } catch {
      this.failed = true;
      return null;
    }
    this.child.on('error', () => { this.failed = true; });
    this.child.stdin?.on('error', () => { this.failed = true; });
    this.child.unref();
    return this.child;
  }

  /** Hands the last lines to logger and waits (briefly) until it has sent them. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      timer.unref();
      child.on('close', () => { clearTimeout(timer); resolve(); });
      child.stdin?.end();
    });
  }
}
