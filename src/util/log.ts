/**
 * The one logger, with csync2's semantics (error.c): a message of level `lv` is
 * shown when the debug level (-v count) is >= lv; it goes to stderr, or to syslog
 * with -l / -i. With -t every line gets `[HH:MM:SS] ` and TIMESTAMP lines appear;
 * a daemon session prefixes `<pid> `. Messages are byte strings.
 *
 * With syslog, messages carry neither prefix (the syslog header has the time and pid), but the
 * TIMESTAMP / TOTALTIME lines of -t still go to the output fd (stderr), as csync2's
 * csync_printtime() writes them to its debug stream whatever -l says.
 */
import { writeFullyOrDrop } from './fdwrite.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { toBuf, type BStr } from './bytes.js';

/**
 * Per-session context: the daemon serves many sessions in one process, and each
 * session's lines carry its own `<id> ` prefix (csync2's forked child pid).
 */
export interface LogContext {
  sessionId: number;
}
const logContext = new AsyncLocalStorage<LogContext>();

/** The session that runs without an AsyncLocalStorage context (see runInSession); 0 = none. */
let soloSession = 0;

/**
 * Run a daemon session with its log id. AsyncLocalStorage gives every promise an async
 * hook on node 20 (~5% of a busy daemon's CPU). With `solo` (a process where nothing but
 * sessions logs while one runs: the csync2 daemon), the usual case, one session at a
 * time, runs without it and its id is read from soloSession; sessions that overlap it
 * get the storage.
 */
export async function runInSession<T>(sessionId: number, fn: () => Promise<T>, solo = false): Promise<T> {
  if (!solo || soloSession !== 0 || logContext.getStore() !== undefined) return logContext.run({ sessionId }, fn);
  soloSession = sessionId;
  try {
    return await fn();
  } finally {
    soloSession = 0;
  }
}

/** The id of the session whose code is running, if any. */
export function currentSessionId(): number | undefined {
  return logContext.getStore()?.sessionId ?? (soloSession !== 0 ? soloSession : undefined);
}

/** Where syslog lines go (set up by the CLI when -l or -i is used). */
export interface SyslogSink {
  /** `lv` is the csync2 level; the sink maps it to a syslog priority. */
  write(lv: number, text: BStr): void;
  close?(): Promise<void>;
}

/** Anything that takes log lines like the Logger (a client keeps each peer's lines in order with one). */
export interface DebugSink {
  debug(lv: number, line: BStr): void;
}

/** Lines kept by Logger.hold(): level and text. */
export type HeldLines = ReadonlyArray<readonly [number, BStr]>;

export class Logger {
  /** -v count. */
  level = 0;
  /** Messages printed so far (decides the final `Finished with 0 errors.` line with -v). */
  messagesPrinted = 0;
  /** -t: prefix lines with [HH:MM:SS] and print TIMESTAMP/TOTALTIME lines. */
  timestamps = false;
  /** -s FILE: file descriptor to append `<pid> TIMESTAMP:` lines to. */
  timestampFd: number | null = null;
  /** Set in a daemon session: lines are prefixed `<pid> `. */
  sessionPid = 0;
  /** Output file descriptor for debug text when not using syslog. */
  fd = 2;
  syslog: SyslogSink | null = null;

  private lastPrintTime = 0;
  private startupTime = 0;
  private heldLines: Array<[number, BStr]> | null = null;

  /**
   * Keep what is logged from now on until takeHeld(): work done in a different order than
   * csync2's (for speed) still prints in csync2's order.
   */
  hold(): void {
    this.heldLines ??= [];
  }

  /** Stop holding; returns what was kept, for replay(). */
  takeHeld(): HeldLines {
    const lines = this.heldLines ?? [];
    this.heldLines = null;
    return lines;
  }

  replay(lines: HeldLines): void {
    for (const [lv, text] of lines) this.raw(lv, text);
  }

  enabled(lv: number): boolean {
    return this.level >= lv;
  }

  /** Log one line; a newline is appended. */
  debug(lv: number, line: BStr): void {
    this.raw(lv, line + '\n');
  }

  /** Log text exactly as given (csync2 has a few messages without a newline). */
  raw(lv: number, text: BStr): void {
    if (this.level < lv) return;
    if (this.heldLines !== null) {
      this.heldLines.push([lv, text]);
      return;
    }
    if (this.syslog) {
      this.syslog.write(lv, text);
    } else {
      this.printTime();
      let prefix = '';
      if (this.timestamps) prefix += `[${hhmmss(new Date())}] `;
      const sid = this.sessionId();
      if (sid) prefix += `<${sid}> `;
      this.emit(prefix + text);
    }
    this.messagesPrinted++;
  }

  /** TIMESTAMP lines at start and at most every 300 s (-t, -s). */
  printTime(): void {
    if (!this.timestamps && this.timestampFd === null) return;
    const now = Math.floor(Date.now() / 1000);
    if (!this.startupTime) this.startupTime = now;
    if (this.lastPrintTime + 300 >= now) return;
    this.lastPrintTime = now;
    const stamp = longTimestamp(new Date(now * 1000));
    if (this.timestampFd !== null) writeAll(this.timestampFd, `<${process.pid}> TIMESTAMP: ${stamp}\n`);
    if (this.timestamps) this.emit(`${this.sessionId() ? `<${this.sessionId()}> ` : ''}TIMESTAMP: ${stamp}\n`);
  }

  /** The final TOTALTIME line (-t, -s). */
  printTotalTime(): void {
    if (!this.timestamps && this.timestampFd === null) return;
    const now = Math.floor(Date.now() / 1000);
    this.lastPrintTime = 0;
    this.printTime();
    const secs = now - this.startupTime;
    const total = `${Math.floor(secs / 3600)}:${pad2(Math.floor(secs / 60) % 60)}:${pad2(secs % 60)}`;
    if (this.timestampFd !== null) writeAll(this.timestampFd, `<${process.pid}> TOTALTIME: ${total}\n`);
    if (this.timestamps) this.emit(`${this.sessionId() ? `<${this.sessionId()}> ` : ''}TOTALTIME: ${total}\n`);
  }

  private sessionId(): number {
    return currentSessionId() ?? this.sessionPid;
  }

  /** Make the next printTime() print (csync_fatal resets the timer so the end time shows). */
  resetPrintTime(): void {
    this.lastPrintTime = 0;
  }

  /** Wait until queued syslog lines are handed over (before the process exits). */
  async close(): Promise<void> {
    await this.syslog?.close?.();
  }

  /** TIMESTAMP / TOTALTIME lines: always the output fd, never syslog (see the file comment). */
  private emit(text: BStr): void {
    writeAll(this.fd, text);
  }
}

function writeAll(fd: number, text: BStr): void {
  writeFullyOrDrop(fd, toBuf(text)); // a closed stderr must not kill the run
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function hhmmss(d: Date): string {
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** strftime "%Y-%m-%d %H:%M:%S %Z (GMT%z)" in local time. */
export function longTimestamp(d: Date): string {
  const offMin = -d.getTimezoneOffset();
  const sign = offMin >= 0 ? '+' : '-';
  const abs = Math.abs(offMin);
  const z = `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
  const zone = timeZoneAbbrev(d);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hhmmss(d)} ${zone} (GMT${z})`;
}

function timeZoneAbbrev(d: Date): string {
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
      .formatToParts(d).find((p) => p.type === 'timeZoneName');
    if (part && /^[A-Z]{2,5}$/.test(part.value)) return part.value;
  } catch { /* fall through */ }
  return d.getTimezoneOffset() === 0 ? 'UTC' : 'LT';
}

/** The process-wide logger, configured by the CLI. */
export const log = new Logger();

/** Errors counted in this run (csync_error_count): decides `Finished with N errors.` and exit 1. */
export const errorCount = { value: 0 };
