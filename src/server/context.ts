/**
 * What a daemon session works with after `CONFIG <name>`: its own parsed
 * config (csync2 parses per connection; GROUP changes it per session), its
 * Matcher, and a lease on the process-wide store of its database file. Same
 * order and messages as csync2's main() after the first lines.
 */
import type { Options } from '../cli/options.js';
import { loadConfig, hasActiveGroup } from '../config/load.js';
import { Matcher } from '../config/match.js';
import { resolveDatabase } from '../db/location.js';
import type { RunContext } from '../sync/context.js';
import { FatalError } from '../util/errors.js';
import { log } from '../util/log.js';
import type { BStr } from '../util/bytes.js';
import { StoreLease } from './stores.js';

export interface SessionContext {
  ctx: RunContext;
  lease: StoreLease;
}

/** Config names csync2 accepts (`CONFIG` argument or -C). */
export function validConfigName(name: BStr): boolean {
  return /^[a-z0-9]*$/.test(name);
}

/** Parse the config, check this host is in a group, open (join) the database. Throws FatalError. */
export async function openSessionContext(opts: Options, cfgName: BStr, sessionId: number): Promise<SessionContext> {
  const file = cfgName ? `${opts.systemDir}/csync2_${cfgName}.cfg` : `${opts.systemDir}/csync2.cfg`;
  log.debug(2, `Config-File:   ${file}`);
  const cfg = await loadConfig({
    file, systemDir: opts.systemDir, myhostname: opts.hostname, groupList: opts.groupList, peerList: opts.peerList,
  });
  const loc = resolveDatabase(opts.database ?? cfg.database, opts.hostname, cfgName);
  log.debug(2, `My hostname is ${opts.hostname}.`);
  log.debug(2, `Database-File: ${loc.url}`);
  if (!hasActiveGroup(cfg)) {
    throw new FatalError(`This host (${opts.hostname}) is not a member of any configured group.`);
  }
  const lease = StoreLease.acquire(loc, {
    noBigTransactions: opts.noBigTransactions, asyncMode: opts.asyncDb, lockTimeout: cfg.lockTimeout,
  }, sessionId);
  const ctx: RunContext = {
    cfg, matcher: new Matcher(cfg), store: lease.store, newForce: opts.newForce, initRun: false,
    dumpDirFd: null, myhostname: opts.hostname,
  };
  return { ctx, lease };
}
