/**
 * Entry of the daemon modes (-i, -ii, -iii), called by the CLI after option
 * parsing and logger set-up. Returns the process exit code.
 */
import type { Options } from '../cli/options.js';
import { FatalError } from '../util/errors.js';

export async function runServer(opts: Options): Promise<number> {
  void opts;
  throw new FatalError('csync2-ts: the daemon modes (-i, -ii, -iii) are not implemented yet.');
}
