/**
 * Child processes for tests: every process is tracked, has a time limit, and dies with the test.
 *
 * - Each child starts in its own process group (detached), so killing `-pid` also reaches what it
 *   forked (a `-ii` daemon's sessions, exec actions).
 * - Each child is wrapped in `setpriv --pdeathsig SIGKILL` (util-linux, always present on Debian),
 *   so it dies even when the test process is killed with SIGKILL and no exit hook runs.
 * - Trackers kill their processes on `stopAll()`; a process-wide hook kills whatever is left on exit
 *   and on SIGINT/SIGTERM/SIGHUP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** The command as started (without the setpriv wrapper). */
  argv: string[];
  /** Wall time in milliseconds. */
  ms: number;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed; without it stdin is /dev/null (unless `stdin: 'pipe'`). */
  input?: string | Buffer;
  /** 'pipe' leaves `child.stdin` open for the caller (interactive use, e.g. `csync2 -i`). */
  stdin?: 'pipe' | 'ignore';
}

export interface RunOptions extends SpawnOptions {
  /** Kill the process group (SIGKILL) after this long and reject with RunTimeoutError. */
  timeoutMs?: number;
}

/** Default time limit of one run; CSYNC2_TEST_TIMEOUT_MS overrides it (slow machines, debugging). */
export const DEFAULT_TIMEOUT_MS = Number(process.env.CSYNC2_TEST_TIMEOUT_MS) || 30_000;

export class RunTimeoutError extends Error {
  constructor(readonly result: RunResult, readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms: ${result.argv.join(' ')}\n`
      + `--- stdout ---\n${result.stdout.toString('latin1')}\n--- stderr ---\n${result.stderr.toString('latin1')}`);
    this.name = 'RunTimeoutError';
  }
}

const SETPRIV = '/usr/bin/setpriv';
const useSetpriv = existsSync(SETPRIV);

/** A running child whose output is collected. */
export class TrackedProcess {
  readonly pid: number;
  /** Resolves once the process has exited and its output is complete; never rejects. */
  readonly exited: Promise<RunResult>;
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
  private result: RunResult | null = null;
  private readonly started = Date.now();

  constructor(readonly argv: string[], readonly child: ChildProcess) {
    if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')}`);
    this.pid = child.pid;
    child.stdout?.on('data', (chunk: Buffer) => this.out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.err.push(chunk));
    this.exited = new Promise((resolve) => {
      let exitCode: number | null = null;
      let exitSignal: NodeJS.Signals | null = null;
      const finish = (): void => {
        if (this.result) return;
        this.result = { code: exitCode, signal: exitSignal, stdout: this.stdout(), stderr: this.stderr(), argv, ms: Date.now() - this.started };
        resolve(this.result);
      };
      child.on('exit', (code, signal) => {
        exitCode = code;
        exitSignal = signal;
        // A forked grandchild may keep the pipes open; do not wait for it forever.
        setTimeout(finish, 200).unref();
      });
      child.on('close', finish);
      child.on('error', (e) => {
        this.err.push(Buffer.from(`spawn error: ${e.message}\n`));
        finish();
      });
    });
  }

  get running(): boolean {
    return this.result === null;
  }

  stdout(): Buffer {
    return Buffer.concat(this.out);
  }

  stderr(): Buffer {
    return Buffer.concat(this.err);
  }

  /** Signal the whole process group (falls back to the process if the group is gone). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    killGroup(this.pid, signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the final result. */
  async stop(graceMs = 2000): Promise<RunResult> {
    if (!this.running) return this.exited;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const result = await this.exited;
    clearTimeout(timer);
    // Whatever the leader forked must not outlive it.
    killGroup(this.pid, 'SIGKILL');
    return result;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** A set of processes that belong together (one cluster); `stopAll()` ends them all. */
export class ProcessTracker {
  private readonly live = new Set<TrackedProcess>();

  constructor() {
    trackers.add(this);
    installExitHooks();
  }

  spawn(argv: string[], opts: SpawnOptions = {}): TrackedProcess {
    const [file, ...args] = useSetpriv ? [SETPRIV, '--pdeathsig', 'SIGKILL', ...argv] : argv;
    const child = spawn(file!, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: [opts.input === undefined && opts.stdin !== 'pipe' ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const proc = new TrackedProcess(argv, child);
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => { /* the child may exit without reading its input */ });
      child.stdin.end(opts.input);
    }
    this.live.add(proc);
    void proc.exited.then(() => this.live.delete(proc));
    return proc;
  }

  /** Runs a command to completion; rejects with RunTimeoutError when it exceeds its time limit. */
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const proc = this.spawn(argv, opts);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    const result = await proc.exited;
    clearTimeout(timer);
    if (timedOut) throw new RunTimeoutError(result, timeoutMs);
    return result;
  }

  get pids(): number[] {
    return [...this.live].map((p) => p.pid);
  }

  /** Stops every live process (SIGTERM, SIGKILL after the grace period). */
  async stopAll(graceMs = 2000): Promise<void> {
    await Promise.all([...this.live].map((p) => p.stop(graceMs)));
  }

  /** Synchronous last resort for exit hooks. */
  killAllNow(): void {
    for (const p of this.live) p.kill('SIGKILL');
  }

  dispose(): void {
    trackers.delete(this);
  }
}

const trackers = new Set<ProcessTracker>();
const exitCallbacks = new Set<() => void>();
let hooksInstalled = false;

/** Registers a synchronous callback run on process exit / fatal signal (after processes are killed). */
export function onTestProcessExit(callback: () => void): () => void {
  installExitHooks();
  exitCallbacks.add(callback);
  return () => exitCallbacks.delete(callback);
}

function runExitHooks(): void {
  for (const t of trackers) t.killAllNow();
  for (const cb of exitCallbacks) {
    try {
      cb();
    } catch {
      // keep going: the other callbacks still have to run
    }
  }
  exitCallbacks.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', runExitHooks);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runExitHooks();
      // Die of the same signal, as if no handler had been installed.
      process.kill(process.pid, signal);
    });
  }
}

/** Pids of processes whose command line contains `needle` (to prove nothing was left running). */
export async function processesMentioning(needle: string): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'latin1');
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}
