/**
 * The update half of -u, -x and -cu (protocol.md §6): push dirty rows to peers.
 * Returns csync2's mode result (-1 = no special exit code).
 */
import type { Options } from '../cli/options.js';
import type { RunContext } from './context.js';
import { FatalError } from '../util/errors.js';
import type { BStr } from '../util/bytes.js';

/** `filter` = the real names given on the command line (null = every dirty row). */
export async function updatePeers(opts: Options, ctx: RunContext, filter: BStr[] | null): Promise<number> {
  void opts; void ctx; void filter;
  throw new FatalError('csync2-ts: updating peers (-u, -x) is not implemented yet.');
}
