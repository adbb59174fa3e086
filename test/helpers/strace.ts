/**
 * The calls of an `strace -f [-ttt] [-y] -o FILE` trace, each whole: a call cut in two by
 * another thread's (`name(args <unfinished ...>`, later `<... name resumed>rest`) is joined
 * by pid. Tests that watch what a process does to its files read these instead of lines.
 */

export interface StraceCall {
  pid: string;
  name: string;
  /** Everything between the parentheses. */
  args: string;
  /** The path strace -y shows for the first argument when it is a descriptor; else null. */
  fdPath: string | null;
  /** The return value as printed (`-1` for a failure), or null when the trace ended first. */
  result: string | null;
  /** -ttt times of the call's start and end (NaN without -ttt). */
  start: number;
  end: number;
}

export function straceCalls(trace: string): StraceCall[] {
  const calls: StraceCall[] = [];
  const open = new Map<string, { name: string; head: string; start: number }>();
  const finish = (pid: string, name: string, args: string, tail: string, start: number, end: number): void => {
    const fd = /^\d+<([^>]*)>/.exec(args);
    const result = /\)\s+=\s+(-?\d+|\?)/.exec(tail);
    calls.push({ pid, name, args, fdPath: fd ? fd[1]! : null, result: result ? result[1]! : null, start, end });
  };
  for (const line of trace.split('\n')) {
    const m = /^(\d+)\s+(?:(\d+\.\d+)\s+)?(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, ts, rest] = m as unknown as [string, string, string | undefined, string];
    const t = ts === undefined ? NaN : Number(ts);
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      const o = open.get(pid);
      open.delete(pid);
      if (o === undefined || o.name !== resumed[1]) continue;
      const whole = o.head + resumed[2]!;
      const close = whole.lastIndexOf(')');
      finish(pid, o.name, whole.slice(0, Math.max(close, 0)), whole.slice(Math.max(close, 0)), o.start, t);
      continue;
    }
    const call = /^(\w+)\((.*)$/.exec(rest);
    if (!call) continue;
    const [, name, after] = call as unknown as [string, string, string];
    if (after.endsWith('<unfinished ...>')) {
      open.set(pid, { name, head: after.slice(0, -'<unfinished ...>'.length).trimEnd(), start: t });
      continue;
    }
    const close = after.lastIndexOf(')');
    finish(pid, name, after.slice(0, Math.max(close, 0)), after.slice(Math.max(close, 0)), t, t);
  }
  return calls;
}
