/**
 * What a mode works with once the config is parsed and the database is open.
 * Built by the CLI (or by a daemon session) and passed down explicitly.
 */
import type { Config } from '../config/model.js';
import type { Matcher } from '../config/match.js';
import type { StateStore } from '../db/store.js';
import type { BStr } from '../util/bytes.js';

export interface RunContext {
  cfg: Config;
  matcher: Matcher;
  store: StateStore;
  /** -F: new dirty rows get forced = 1. */
  newForce: boolean;
  /** -I: checks fill the file table without marking. */
  initRun: boolean;
  /** -W FD, or null. */
  dumpDirFd: number | null;
  /** The local host name (lower-cased -N value or hostname). */
  myhostname: BStr;
}
