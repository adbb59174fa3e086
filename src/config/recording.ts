/**
 * The parser's calls to its ConfigSink, recorded and replayed. The grammar never
 * looks at what the sink does (every call returns nothing), so the calls of one
 * successful parse are a complete description of the file for the builder:
 * replaying them into a new builder gives the same model, the same -vv lines and
 * the same semantic errors (a builder's error depends on its own options, -N, -G,
 * -P and the key files, which replay supplies afresh). The parse cache (cache.ts)
 * keeps such recordings, so a start needs neither chevrotain nor the grammar.
 */
import type { BStr } from '../util/bytes.js';
import type { ConfigSink } from './parser.js';
import type { CfgToken } from './source.js';

/** A token as the builder uses it: its value and where it is. */
export type TokenRecord = [value: BStr, file: string, line: number, column: number];
export type ArgRecord = TokenRecord | string | boolean | null;
export type CallRecord = [method: string, ...args: ArgRecord[]];

function isToken(arg: unknown): arg is CfgToken {
  return typeof arg === 'object' && arg !== null && 'place' in arg && 'value' in arg;
}

function toRecord(arg: unknown): ArgRecord {
  if (isToken(arg)) return [arg.value, arg.place.file, arg.place.line, arg.place.column];
  if (typeof arg === 'string' || typeof arg === 'boolean' || arg === null) return arg;
  throw new Error(`config recording: unexpected sink argument ${String(arg)}`);
}

function fromRecord(arg: ArgRecord): unknown {
  if (!Array.isArray(arg)) return arg;
  const [value, file, line, column] = arg;
  return { value, image: value, place: { file, line, column }, nearLine: 0 } as unknown as CfgToken;
}

/** `target` with every call recorded into `calls` (before it runs) and passed on. */
export function recordingSink(target: ConfigSink, calls: CallRecord[]): ConfigSink {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const v: unknown = Reflect.get(t, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        calls.push([prop, ...args.map(toRecord)]);
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/**
 * Make the recorded calls on `sink`, in order (its errors come out as they would from
 * the parser). False, before any call, when a record does not fit this sink (a method
 * it lacks, an argument of another shape): the caller parses instead.
 */
export function replay(calls: readonly CallRecord[], sink: ConfigSink): boolean {
  const target = sink as unknown as Record<string, (...a: unknown[]) => unknown>;
  if (!calls.every(([method, ...args]) => typeof target[method] === 'function' && args.every(isArgRecord))) return false;
  for (const [method, ...args] of calls) target[method]!.apply(sink, args.map(fromRecord));
  return true;
}

function isArgRecord(a: unknown): a is ArgRecord {
  if (a === null || typeof a === 'string' || typeof a === 'boolean') return true;
  return Array.isArray(a) && a.length === 4 && typeof a[0] === 'string' && typeof a[1] === 'string' &&
    Number.isInteger(a[2]) && Number.isInteger(a[3]);
}

/** Is `x` a list of call records (a cache file read back)? */
export function isCallList(x: unknown): x is CallRecord[] {
  return Array.isArray(x) && x.every((c) => Array.isArray(c) && typeof c[0] === 'string');
}
