/**
 * -T, -TT and -TI (protocol.md §6.6): compare this host's file table with a
 * peer's via LIST, print differences or diffs, optionally mark them dirty.
 * Returns csync2's mode result (2 = in sync).
 */
import type { Options } from '../cli/options.js';
import type { RunContext } from './context.js';
import { FatalError } from '../util/errors.js';

export async function testSync(opts: Options, ctx: RunContext): Promise<number> {
  void opts; void ctx;
  throw new FatalError('csync2-ts: -T is not implemented yet.');
}
